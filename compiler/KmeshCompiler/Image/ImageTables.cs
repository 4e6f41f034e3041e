using System.Runtime.CompilerServices;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>One stage's two lists: the eval's own range of km_lists, then its shared block's.</summary>
public readonly record struct StageList(uint First0, uint Count0, uint First1, uint Count1)
{
    public uint Count => Count0 + Count1;

    /// <summary>The km_lists slot of position <paramref name="i"/> (kmesh_xdp.c stage_slot).</summary>
    public uint Slot(uint i) => i < Count0 ? First0 + i : First1 + (i - Count0);
}

/// <summary>The four stage lists of an eval.</summary>
public readonly record struct EvalLists(StageList Match, StageList Clause, StageList Rule, StageList Policy);

/// <summary>The maps of an image decoded into the structs of bpf/kmesh_tables.h, with the lookups the
/// programs make (hash, array index, longest-prefix match). A missing row reads as null, as a failed
/// bpf_map_lookup_elem does. Each map is decoded on first use: a reader of the authorization tables
/// does not pay for the load-balancing ones (every service of the cluster), and the reverse.</summary>
public sealed class ImageTables
{
    public ImageFile Image { get; }

    public SortedDictionary<IpAddr, KmeshWorkload> Workloads => _workloads ??= DecodeWorkloads();
    public SortedDictionary<(uint Workload, uint Port), uint> PortIndex => _portIndex ??= DecodePortIndex();
    public KmeshEval[] Evals => _evals ??= ArrayOf<KmeshEval>(Layout.MapEvals);
    public uint[] Lists => _lists ??= ArrayOf<uint>(Layout.MapLists);
    public KmeshPolicy[] Policies => _policies ??= ArrayOf<KmeshPolicy>(Layout.MapPolicies);
    public KmeshRange[] Rules => _rules ??= ArrayOf<KmeshRange>(Layout.MapRules);
    public KmeshRange[] Clauses => _clauses ??= ArrayOf<KmeshRange>(Layout.MapClauses);
    public KmeshMatch[] Matches => _matches ??= ArrayOf<KmeshMatch>(Layout.MapMatches);
    /// <summary>Address-set entries by set id, in trie key order.</summary>
    public SortedDictionary<uint, List<IpPrefix>> AddrSets => (_addrSets ??= DecodeAddrSets()).Sets;
    public SortedDictionary<uint, List<uint>> PortSets => (_portSets ??= DecodePortSets()).Sets;
    /// <summary>km_identities: every workload address that lends an identity, with its identity.</summary>
    public Dictionary<IpAddr, KmeshIdentity> Identities => _identities ??= Shared(DecodedIdentities, Layout.MapIdentities, DecodeIdentities);
    /// <summary>km_id_sets: members (identity or namespace ids) by set id, ascending.</summary>
    public SortedDictionary<uint, List<uint>> IdSets => (_idSets ??= DecodeIdSets()).Sets;
    public SortedDictionary<(IpAddr Address, uint Port), KmeshService> Services => _services ??= Shared(DecodedServices, Layout.MapServices, DecodeServices);
    public SortedDictionary<(uint Service, uint Priority, uint Index), uint> Endpoints => _endpoints ??= Shared(DecodedEndpoints, Layout.MapEndpoints, DecodeEndpoints);
    /// <summary>km_backends by backend id.</summary>
    public SortedDictionary<uint, KmeshBackend> Backends => _backends ??= Shared(DecodedBackends, Layout.MapBackends, DecodeBackends);
    /// <summary>km_decisions and km_decision_idx: the decision table the entry program checks first.</summary>
    public DecisionTable Decisions => _decisions ??= DecodeDecisions();

    // Decoded maps, each built whole before it is published, so a race decodes twice at worst.
    private SortedDictionary<IpAddr, KmeshWorkload>? _workloads;
    private SortedDictionary<(uint Workload, uint Port), uint>? _portIndex;
    private KmeshEval[]? _evals;
    private uint[]? _lists;
    private KmeshPolicy[]? _policies;
    private KmeshRange[]? _rules;
    private KmeshRange[]? _clauses;
    private KmeshMatch[]? _matches;
    private AddrSetTables? _addrSets;
    private PortSetTables? _portSets;
    private Dictionary<IpAddr, KmeshIdentity>? _identities;
    private PortSetTables? _idSets;
    private SortedDictionary<(IpAddr Address, uint Port), KmeshService>? _services;
    private SortedDictionary<(uint Service, uint Priority, uint Index), uint>? _endpoints;
    private SortedDictionary<uint, KmeshBackend>? _backends;
    private DecisionTable? _decisions;

    private sealed record AddrSetTables(SortedDictionary<uint, List<IpPrefix>> Sets, HashSet<(uint SetFam, UInt128 Network, int Length)> Lpm,
        Dictionary<uint, (int V4, int V6)> Counts);

    private sealed record PortSetTables(SortedDictionary<uint, List<uint>> Sets, HashSet<(uint Set, uint Port)> Members);

    public ImageTables(ImageFile image) => Image = image;

    // The tables of the whole cluster (every workload address, every service) decoded once per
    // section object, not once per reader: an incremental compile hands the same section to the
    // next image when it did not change. Sections are immutable, and the decoded maps are only read.
    private static readonly ConditionalWeakTable<ImageSection, Dictionary<IpAddr, KmeshIdentity>> DecodedIdentities = new();
    private static readonly ConditionalWeakTable<ImageSection, SortedDictionary<(IpAddr, uint), KmeshService>> DecodedServices = new();
    private static readonly ConditionalWeakTable<ImageSection, SortedDictionary<(uint, uint, uint), uint>> DecodedEndpoints = new();
    private static readonly ConditionalWeakTable<ImageSection, SortedDictionary<uint, KmeshBackend>> DecodedBackends = new();

    private T Shared<T>(ConditionalWeakTable<ImageSection, T> cache, string map, Func<T> decode) where T : class =>
        Image.Section(map) is { } s ? cache.GetValue(s, _ => decode()) : decode();

    private SortedDictionary<IpAddr, KmeshWorkload> DecodeWorkloads()
    {
        var r = new SortedDictionary<IpAddr, KmeshWorkload>();
        foreach (var e in Entries(Layout.MapWorkloads))
            r[Rows.Address(Rows.Read<KmeshIpKey>(e.Key))] = Rows.Read<KmeshWorkload>(e.Value);
        return r;
    }

    private SortedDictionary<(uint Workload, uint Port), uint> DecodePortIndex()
    {
        var r = new SortedDictionary<(uint Workload, uint Port), uint>();
        foreach (var e in Entries(Layout.MapPortIndex))
        {
            var k = Rows.Read<KmeshPortKey>(e.Key);
            r[(k.Id, k.Port)] = Rows.U32(e.Value);
        }
        return r;
    }

    private AddrSetTables DecodeAddrSets()
    {
        var sets = new SortedDictionary<uint, List<IpPrefix>>();
        var lpm = new HashSet<(uint SetFam, UInt128 Network, int Length)>();
        var counts = new Dictionary<uint, (int V4, int V6)>();
        foreach (var e in Entries(Layout.MapAddrSets))
        {
            var k = Rows.Read<KmeshAddrSetKey>(e.Key);
            var (set, prefix) = Rows.Prefix(k);
            if (!sets.TryGetValue(set, out var l)) sets[set] = l = new();
            l.Add(prefix);
            lpm.Add((k.SetFam, prefix.Network.Value, prefix.Length));
            var c = counts.GetValueOrDefault(set);
            counts[set] = prefix.Address.IsV6 ? (c.V4, c.V6 + 1) : (c.V4 + 1, c.V6);
        }
        return new(sets, lpm, counts);
    }

    private PortSetTables DecodePortSets() =>
        MemberSets(Layout.MapPortSets, k => Rows.Read<KmeshPortKey>(k) is var x ? (x.Id, x.Port) : default);

    private SortedDictionary<uint, KmeshBackend> DecodeBackends()
    {
        var r = new SortedDictionary<uint, KmeshBackend>();
        foreach (var e in Entries(Layout.MapBackends)) r[Rows.U32(e.Key)] = Rows.Read<KmeshBackend>(e.Value);
        return r;
    }

    private Dictionary<IpAddr, KmeshIdentity> DecodeIdentities()
    {
        var r = new Dictionary<IpAddr, KmeshIdentity>();
        foreach (var e in Entries(Layout.MapIdentities))
            r[Rows.Address(Rows.Read<KmeshIpKey>(e.Key))] = Rows.Read<KmeshIdentity>(e.Value);
        return r;
    }

    private PortSetTables DecodeIdSets()
    {
        var t = MemberSets(Layout.MapIdSets, k => Rows.Read<KmeshIdSetKey>(k) is var x ? (x.SetId, x.Member) : default);
        foreach (var l in t.Sets.Values) l.Sort();
        return t;
    }

    /// <summary>A hash of {set id, member} keys (port sets, identity sets) as member lists by set.</summary>
    private PortSetTables MemberSets(string map, Func<byte[], (uint Set, uint Member)> key)
    {
        var sets = new SortedDictionary<uint, List<uint>>();
        var members = new HashSet<(uint Set, uint Port)>();
        foreach (var e in Entries(map))
        {
            var (set, member) = key(e.Key);
            if (!sets.TryGetValue(set, out var l)) sets[set] = l = new();
            l.Add(member);
            members.Add((set, member));
        }
        return new(sets, members);
    }

    /// <summary>The id sets some match tests against the source's namespace id (KMESH_MATCH_ID_BY_NS).</summary>
    public HashSet<uint> NamespaceIdSets => _namespaceIdSets ??= [.. Matches.Where(m => m.IdSet != 0 && (m.Flags & Layout.MatchIdByNs) != 0).Select(m => m.IdSet)];
    private HashSet<uint>? _namespaceIdSets;

    /// <summary>The identity of a source address as the entry program reads it: all zero for an
    /// address that has none.</summary>
    public KmeshIdentity IdentityOf(IpAddr src) => Identities.TryGetValue(src, out var id) ? id : default;

    /// <summary>One km_id_sets lookup.</summary>
    public bool InIdSet(uint setId, uint member) => (_idSets ??= DecodeIdSets()).Members.Contains((setId, member));

    private SortedDictionary<(IpAddr Address, uint Port), KmeshService> DecodeServices()
    {
        var r = new SortedDictionary<(IpAddr Address, uint Port), KmeshService>();
        foreach (var e in Entries(Layout.MapServices))
            r[Rows.Svc(Rows.Read<KmeshSvcKey>(e.Key))] = Rows.Read<KmeshService>(e.Value);
        return r;
    }

    private SortedDictionary<(uint Service, uint Priority, uint Index), uint> DecodeEndpoints()
    {
        var r = new SortedDictionary<(uint Service, uint Priority, uint Index), uint>();
        foreach (var e in Entries(Layout.MapEndpoints))
        {
            var k = Rows.Read<KmeshEndpointKey>(e.Key);
            r[(k.ServiceId, k.Priority, k.Index)] = Rows.U32(e.Value);
        }
        return r;
    }

    private DecisionTable DecodeDecisions()
    {
        var index = ArrayOf<KmeshDecisionIndex>(Layout.MapDecisionIndex);
        return new DecisionTable(Entries(Layout.MapDecisions), index.Length > 0 ? index[0] : null, InPortSet);
    }

    private IEnumerable<ImageEntry> Entries(string map) => Image.Section(map)?.Entries ?? [];

    private T[] ArrayOf<T>(string map) where T : unmanaged
    {
        var entries = Entries(map).ToList();
        var result = new T[entries.Count == 0 ? 0 : (int)Rows.U32(entries[^1].Key) + 1];
        foreach (var e in entries) result[Rows.U32(e.Key)] = Rows.Read<T>(e.Value);
        return result;
    }

    /// <summary>The lists an eval's stages walk: its own, then its shared block's; null when the block
    /// row is missing (the programs fail closed).</summary>
    public EvalLists? ListsOf(in KmeshEval e)
    {
        KmeshEval b = default;
        if (e.Shared != 0)
        {
            if (At(Evals, e.Shared - 1) is not { } block) return null;
            b = block;
        }
        return new EvalLists(
            new StageList(e.MatchFirst, e.MatchCount, b.MatchFirst, b.MatchCount),
            new StageList(e.ClauseFirst, e.ClauseCount, b.ClauseFirst, b.ClauseCount),
            new StageList(e.RuleFirst, e.RuleCount, b.RuleFirst, b.RuleCount),
            new StageList(e.PolicyFirst, e.PolicyCount, b.PolicyFirst, b.PolicyCount));
    }

    /// <summary>A hash keyed by dense u32 ids, decoded as an array (its entries are in key-byte order).</summary>
    private T[] DenseOf<T>(string map) where T : unmanaged
    {
        var entries = Entries(map).ToList();
        var result = new T[entries.Count == 0 ? 0 : (int)entries.Max(e => Rows.U32(e.Key)) + 1];
        foreach (var e in entries) result[Rows.U32(e.Key)] = Rows.Read<T>(e.Value);
        return result;
    }

    /// <summary>bpf_map_lookup_elem on an array: null past the end.</summary>
    public static T? At<T>(T[] array, uint index) where T : struct => index < array.Length ? array[index] : null;

    /// <summary>One LPM lookup of <paramref name="a"/> in set <paramref name="setId"/>.</summary>
    public bool InSet(uint setId, IpAddr a)
    {
        var lpm = (_addrSets ??= DecodeAddrSets()).Lpm;
        uint fam = Layout.SetFam(setId, a.IsV6);
        for (int len = a.Bits; len >= 0; len--)
            if (lpm.Contains((fam, new IpPrefix(a, len).Network.Value, len))) return true;
        return false;
    }

    /// <summary>How many prefixes of family <paramref name="v6"/> set <paramref name="setId"/> holds.</summary>
    public int FamilyCount(uint setId, bool v6)
    {
        var counts = (_addrSets ??= DecodeAddrSets()).Counts;
        return counts.TryGetValue(setId, out var c) ? (v6 ? c.V6 : c.V4) : 0;
    }

    public bool InPortSet(uint setId, uint port) => (_portSets ??= DecodePortSets()).Members.Contains((setId, port));
}
