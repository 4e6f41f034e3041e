using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>The maps of an image decoded into the structs of bpf/kmesh_tables.h, with the lookups the
/// programs make (hash, array index, longest-prefix match). A missing row reads as null, as a failed
/// bpf_map_lookup_elem does.</summary>
public sealed class ImageTables
{
    public ImageFile Image { get; }
    public SortedDictionary<IpAddr, KmeshWorkload> Workloads { get; } = new();
    public SortedDictionary<(uint Workload, uint Port), uint> PortIndex { get; } = new();
    public KmeshEval[] Evals { get; }
    public uint[] Lists { get; }
    public KmeshPolicy[] Policies { get; }
    public KmeshRange[] Rules { get; }
    public KmeshRange[] Clauses { get; }
    public KmeshMatch[] Matches { get; }
    /// <summary>Address-set entries by set id, in trie key order.</summary>
    public SortedDictionary<uint, List<IpPrefix>> AddrSets { get; } = new();
    public SortedDictionary<uint, List<uint>> PortSets { get; } = new();
    public SortedDictionary<(IpAddr Address, uint Port), KmeshService> Services { get; } = new();
    public SortedDictionary<(uint Service, uint Priority, uint Index), uint> Endpoints { get; } = new();
    public KmeshBackend[] Backends { get; }
    /// <summary>km_decisions and km_decision_idx: the decision table the entry program checks first.</summary>
    public DecisionTable Decisions { get; }

    private readonly HashSet<(uint SetFam, UInt128 Network, int Length)> _lpm = new();
    private readonly HashSet<(uint Set, uint Port)> _ports = new();

    public ImageTables(ImageFile image)
    {
        Image = image;
        foreach (var e in Entries(Layout.MapWorkloads))
            Workloads[Rows.Address(Rows.Read<KmeshIpKey>(e.Key))] = Rows.Read<KmeshWorkload>(e.Value);
        foreach (var e in Entries(Layout.MapPortIndex))
        {
            var k = Rows.Read<KmeshPortKey>(e.Key);
            PortIndex[(k.Id, k.Port)] = Rows.U32(e.Value);
        }
        Evals = ArrayOf<KmeshEval>(Layout.MapEvals);
        Lists = ArrayOf<uint>(Layout.MapLists);
        Policies = ArrayOf<KmeshPolicy>(Layout.MapPolicies);
        Rules = ArrayOf<KmeshRange>(Layout.MapRules);
        Clauses = ArrayOf<KmeshRange>(Layout.MapClauses);
        Matches = ArrayOf<KmeshMatch>(Layout.MapMatches);
        foreach (var e in Entries(Layout.MapAddrSets))
        {
            var k = Rows.Read<KmeshAddrSetKey>(e.Key);
            var (set, prefix) = Rows.Prefix(k);
            if (!AddrSets.TryGetValue(set, out var l)) AddrSets[set] = l = new();
            l.Add(prefix);
            _lpm.Add((k.SetFam, prefix.Network.Value, prefix.Length));
        }
        foreach (var e in Entries(Layout.MapPortSets))
        {
            var k = Rows.Read<KmeshPortKey>(e.Key);
            if (!PortSets.TryGetValue(k.Id, out var l)) PortSets[k.Id] = l = new();
            l.Add(k.Port);
            _ports.Add((k.Id, k.Port));
        }
        foreach (var e in Entries(Layout.MapServices))
            Services[Rows.Svc(Rows.Read<KmeshSvcKey>(e.Key))] = Rows.Read<KmeshService>(e.Value);
        foreach (var e in Entries(Layout.MapEndpoints))
        {
            var k = Rows.Read<KmeshEndpointKey>(e.Key);
            Endpoints[(k.ServiceId, k.Priority, k.Index)] = Rows.U32(e.Value);
        }
        Backends = ArrayOf<KmeshBackend>(Layout.MapBackends);
        var index = ArrayOf<KmeshDecisionIndex>(Layout.MapDecisionIndex);
        Decisions = new DecisionTable(Entries(Layout.MapDecisions), index.Length > 0 ? index[0] : null);
    }

    private IEnumerable<ImageEntry> Entries(string map) => Image.Section(map)?.Entries ?? [];

    private T[] ArrayOf<T>(string map) where T : unmanaged
    {
        var entries = Entries(map).ToList();
        var result = new T[entries.Count == 0 ? 0 : (int)Rows.U32(entries[^1].Key) + 1];
        foreach (var e in entries) result[Rows.U32(e.Key)] = Rows.Read<T>(e.Value);
        return result;
    }

    /// <summary>bpf_map_lookup_elem on an array: null past the end.</summary>
    public static T? At<T>(T[] array, uint index) where T : struct => index < array.Length ? array[index] : null;

    /// <summary>One LPM lookup of <paramref name="a"/> in set <paramref name="setId"/>.</summary>
    public bool InSet(uint setId, IpAddr a)
    {
        uint fam = Layout.SetFam(setId, a.IsV6);
        for (int len = a.Bits; len >= 0; len--)
            if (_lpm.Contains((fam, new IpPrefix(a, len).Network.Value, len))) return true;
        return false;
    }

    public bool InPortSet(uint setId, uint port) => _ports.Contains((setId, port));
}
