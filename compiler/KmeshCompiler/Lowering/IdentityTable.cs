using System.Collections.Immutable;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>km_identities (docs/dataplane-layout.md, "Identities"): every address that lends an
/// identity, with its identity and namespace numbers and its decision class. A class is the set of
/// the image's identity sets and live source-address sets the address passes; the class of addresses
/// no such set names is 0, the others are numbered in address order of their first address. Also the
/// representative of every class and family (its lowest address), which the decision table decides
/// for. <see cref="Patch"/> gives the table of a patched address index from the previous one without
/// a pass over every address, when no class is born, dies or changes its first address.</summary>
internal sealed class IdentityTable
{
    /// <summary>What the classes depend on besides the addresses: the identity sets and live source-address sets, by content.</summary>
    public sealed record Inputs(IdentityLowering Identity, List<(bool ByNs, uint[] Members)> IdSets, List<(uint Set, AddressSet Prefixes)> SrcSets)
    {
        public bool SameSets(Inputs o) =>
            ReferenceEquals(Identity, o.Identity)
            && IdSets.Count == o.IdSets.Count && SrcSets.Count == o.SrcSets.Count
            && IdSets.Zip(o.IdSets).All(x => x.First.ByNs == x.Second.ByNs && x.First.Members.AsSpan().SequenceEqual(x.Second.Members))
            && SrcSets.Zip(o.SrcSets).All(x => x.First.Set == x.Second.Set && x.First.Prefixes.Equals(x.Second.Prefixes));
    }

    public Inputs Of { get; }
    public Lowerer.AddressIndex Addresses { get; }
    public ImageSection Section { get; }
    /// <summary>Representative of each (family, class): its lowest address and that address's row.</summary>
    public SortedDictionary<(bool V6, uint Cls), (IpAddr Address, KmeshIdentity Identity)> Representatives { get; }
    private readonly Dictionary<string, uint> _classes;
    private SourceClasses? _sourceClasses;

    /// <summary>The decision classes with the tests each passes, for the decision table; computed once
    /// per table and shared by a patched table (same sets, same representatives).</summary>
    public SourceClasses SourceClasses => _sourceClasses ??= new SourceClasses(Representatives,
        Of.IdSets.Select((x, i) => ((uint)i + 1, (IReadOnlyList<uint>)x.Members)),
        Of.SrcSets.Select(x => (x.Set, (IEnumerable<IpPrefix>)x.Prefixes.Prefixes)));
    private readonly Dictionary<IdentityGroup, string> _groupKeys;

    private IdentityTable(Inputs inputs, Lowerer.AddressIndex addresses, ImageSection section,
        SortedDictionary<(bool, uint), (IpAddr, KmeshIdentity)> reps, Dictionary<string, uint> classes, Dictionary<IdentityGroup, string> groupKeys)
    {
        Of = inputs;
        Addresses = addresses;
        Section = section;
        Representatives = reps;
        _classes = classes;
        _groupKeys = groupKeys;
    }

    /// <summary>The identity-set part of each identity's class ("" when it is in no set).</summary>
    private static Dictionary<IdentityGroup, string> GroupKeys(Inputs inputs)
    {
        var groups = inputs.Identity.Groups;
        var byId = new Dictionary<uint, IdentityGroup>(groups.Count);
        var byNs = new Dictionary<uint, List<IdentityGroup>>();
        foreach (var g in groups)
        {
            byId[g.Id] = g;
            if (!byNs.TryGetValue(g.Ns, out var l)) byNs[g.Ns] = l = [];
            l.Add(g);
        }
        var idSig = new Dictionary<IdentityGroup, List<uint>>(ReferenceEqualityComparer.Instance);
        void Mark(IdentityGroup g, uint set)
        {
            if (!idSig.TryGetValue(g, out var l)) idSig[g] = l = [];
            l.Add(set);
        }
        for (int i = 0; i < inputs.IdSets.Count; i++)
        {
            var (ns, members) = inputs.IdSets[i];
            foreach (var member in members)
            {
                if (member == 0) continue;
                if (ns) { foreach (var g in byNs.GetValueOrDefault(member) ?? []) Mark(g, (uint)i + 1); }
                else if (byId.TryGetValue(member, out var g)) Mark(g, (uint)i + 1);
            }
        }
        var keys = new Dictionary<IdentityGroup, string>(ReferenceEqualityComparer.Instance);
        foreach (var g in groups) keys[g] = idSig.TryGetValue(g, out var l) ? "i" + string.Join(',', l) : "";
        return keys;
    }

    private static string ClassKey(string groupKey, List<uint>? srcSets) => srcSets is null ? groupKey : groupKey + "a" + string.Join(',', srcSets);

    private static ImageEntry Row(IpAddr a, IdentityGroup g, uint cls, out KmeshIdentity id)
    {
        id = new KmeshIdentity { Id = g.Id, Ns = g.Ns, Cls = cls };
        return new ImageEntry(Rows.Bytes(Rows.IpKey(a)), Rows.Bytes(id));
    }

    public static IdentityTable Build(Inputs inputs, Lowerer.AddressIndex index)
    {
        var groupKeys = GroupKeys(inputs);
        var (addresses, keys) = (index.Order, index.Keys);
        // Source-address sets tested by live matches: which world addresses each one holds.
        var addrSig = new Dictionary<int, List<uint>>();
        foreach (var (set, prefixes) in inputs.SrcSets)
            foreach (var prefix in prefixes.Prefixes)
            {
                var first = prefix.Network;
                var lastValue = prefix.Length >= prefix.Address.Bits ? first.Value
                    : first.Value | ((prefix.Address.IsV6 ? UInt128.MaxValue : uint.MaxValue) >> prefix.Length);
                int lo = Array.BinarySearch(keys, first);
                if (lo < 0) lo = ~lo;
                for (int i = lo; i < keys.Length && keys[i].IsV6 == first.IsV6 && keys[i].Value <= lastValue; i++)
                {
                    if (!addrSig.TryGetValue(i, out var l)) addrSig[i] = l = [];
                    l.Add(set);
                }
            }
        var classes = new Dictionary<string, uint>(StringComparer.Ordinal) { [""] = 0 };
        var reps = new SortedDictionary<(bool, uint), (IpAddr, KmeshIdentity)>();
        var entries = new List<ImageEntry>(addresses.Length);
        for (int i = 0; i < addresses.Length; i++)
        {
            var (a, g) = addresses[i];
            string key = ClassKey(groupKeys[g], addrSig.GetValueOrDefault(i));
            if (!classes.TryGetValue(key, out uint cls)) classes[key] = cls = (uint)classes.Count;
            entries.Add(Row(a, g, cls, out var id));
            reps.TryAdd((a.IsV6, cls), (a, id));
        }
        return new IdentityTable(inputs, index, ImageSection.For(Layout.Map(Layout.MapIdentities), entries), reps, classes, groupKeys);
    }

    /// <summary>The table of <paramref name="index"/> (patched from this table's index, same sets)
    /// with the rows of the touched addresses replaced; null when that would change a class's number
    /// or representative (a class born or gone, or a first address moved), and the caller builds.</summary>
    public IdentityTable? Patch(Inputs inputs, Lowerer.AddressIndex index)
    {
        if (!ReferenceEquals(index.PatchedFrom, Addresses) || !inputs.SameSets(Of) || index.Touched is not { } touched) return null;
        if (!ReferenceEquals(index.Identity, Addresses.Identity)) return null;
        var old = new Dictionary<IpAddr, KmeshIdentity>();
        var dropKeys = new List<byte[]>();
        foreach (var a in touched)
        {
            var key = Rows.Bytes(Rows.IpKey(a));
            if (Find(Section.Entries, key) is not { } row) continue;
            var id = Rows.Read<KmeshIdentity>(row.Value);
            if (Representatives.TryGetValue((a.IsV6, id.Cls), out var rep) && rep.Address == a) return null;
            dropKeys.Add(key);
        }
        var add = new List<ImageEntry>();
        foreach (var a in touched)
        {
            if (!index.Owner.TryGetValue(a, out var w) || !w.LendsIdentity) continue;
            var g = index.Identity.GroupOf(w);
            List<uint>? sets = null;
            foreach (var (set, prefixes) in inputs.SrcSets)
                if (prefixes.Contains(a)) (sets ??= []).Add(set);
            if (!_classes.TryGetValue(ClassKey(_groupKeys[g], sets), out uint cls)) return null;
            if (!Representatives.TryGetValue((a.IsV6, cls), out var rep) || a.CompareTo(rep.Address) <= 0) return null;
            add.Add(Row(a, g, cls, out _));
        }
        var section = SortedSplice.Section(Section, dropKeys, add);
        return new IdentityTable(inputs, index, section, Representatives, _classes, _groupKeys) { _sourceClasses = _sourceClasses };
    }

    private static ImageEntry? Find(ImmutableArray<ImageEntry> rows, byte[] key)
    {
        int lo = 0, hi = rows.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            int c = rows[mid].Key.AsSpan().SequenceCompareTo(key);
            if (c == 0) return rows[mid];
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return null;
    }
}
