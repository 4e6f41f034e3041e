using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Node;

/// <summary>The image in force, read back from the live maps of its generation slot: the same
/// <see cref="ImageFile"/> the compiler wrote (its bytes hash to the recorded content hash, which
/// <see cref="Read"/> checks), with the generation number and slot.</summary>
public sealed record LiveImage(ImageFile Image, ulong Generation, int Slot, string ContentHash)
{
    /// <summary>The generation in force, or null when nothing was ever loaded.</summary>
    public static LiveImage? Read(NodeObjects maps)
    {
        if (ActiveMeta(maps) is not var (slot, meta)) return null;
        return new LiveImage(ReadSlot(maps, slot, meta), meta.Generation, slot, Publisher.ContentHex(meta));
    }

    /// <summary>The generation in force without reading its tables back (its record in km_meta), or
    /// null when nothing was ever loaded.</summary>
    public static LiveHead? Head(NodeObjects maps) =>
        ActiveMeta(maps) is var (slot, meta) ? new LiveHead(meta.Generation, slot, Publisher.ContentHex(meta)) : null;

    private static (int Slot, KmeshMeta Meta)? ActiveMeta(NodeObjects maps)
    {
        var p = new Publisher(maps);
        int slot = p.ActiveSlot();
        var meta = p.ReadMeta(slot);
        if (meta.Generation == 0 && meta.State == Layout.GenEmpty) return null;
        if (meta.State != Layout.GenComplete)
            throw new LoaderException(LoaderError.Inconsistent, $"generation slot {slot} is in force but its record says it is incomplete (state {meta.State})");
        return (slot, meta);
    }

    private static ImageFile ReadSlot(NodeObjects maps, int slot, KmeshMeta meta)
    {
        var sections = new List<ImageSection>();
        for (int i = 0; i < Layout.ImageMaps.Length; i++)
        {
            var spec = Layout.ImageMaps[i];
            var t = meta.Table(i);
            if (t.Reserved == 0) continue;
            var map = maps.Map(spec, slot);
            IEnumerable<ImageEntry> entries = spec.Type switch
            {
                BpfMapType.Array => Split(map.ArrayRows((int)t.Entries), map.ValueSize).Select((v, idx) => new ImageEntry(BitConverter.GetBytes((uint)idx), v)),
                BpfMapType.LpmTrie => map.Keys().Select(k =>
                {
                    var v = new byte[map.ValueSize];
                    return map.TryLookup(k, v) ? new ImageEntry(k, v) : throw new LoaderException(LoaderError.Inconsistent, $"{map.Name}: a key vanished while it was read");
                }).ToList(),
                _ => map.Entries().Select(e => new ImageEntry(e.Key, e.Value)),
            };
            var section = ImageSection.For(spec, entries);
            var state = Publisher.TableState(section.Entries, true);
            if (state.Entries != t.Entries || !Same(state, t))
                throw new LoaderException(LoaderError.Inconsistent, $"{map.Name} holds {state.Entries} rows that differ from the {t.Entries} generation {meta.Generation} recorded");
            sections.Add(section);
        }
        var namesMap = maps.Map(Layout.Map(Layout.MapNames), slot);
        var blob = new byte[meta.NamesLen];
        var chunk = new byte[Layout.NamesChunk];
        for (int i = 0; i * Layout.NamesChunk < blob.Length; i++)
        {
            if (!namesMap.TryLookup(BitConverter.GetBytes((uint)i), chunk))
                throw new LoaderException(LoaderError.Inconsistent, $"{namesMap.Name}: chunk {i} of the names is missing");
            chunk.AsSpan(0, Math.Min(Layout.NamesChunk, blob.Length - i * Layout.NamesChunk)).CopyTo(blob.AsSpan(i * Layout.NamesChunk));
        }
        if (ImageFile.ReadNamesBlob(blob) is not { } names || !Publisher.NamesFingerprint(names.Node, names.Names).AsSpan().SequenceEqual(Publisher.NamesHashOf(meta)))
            throw new LoaderException(LoaderError.Inconsistent, $"{namesMap.Name}: the names differ from what generation {meta.Generation} recorded");
        var image = new ImageFile(names.Node, Publisher.AbiHex(meta), [.. sections], names.Names);
        string hash = image.ContentHash();
        if (hash != Publisher.ContentHex(meta))
            throw new LoaderException(LoaderError.Inconsistent, $"the live maps of generation {meta.Generation} hash to {hash}, its record says {Publisher.ContentHex(meta)}");
        return image;
    }

    /// <summary>Rows of <paramref name="size"/> bytes from one buffer.</summary>
    public static IEnumerable<byte[]> Split(byte[] rows, int size)
    {
        for (int i = 0; i + size <= rows.Length; i += size) yield return rows.AsSpan(i, size).ToArray();
    }

    /// <summary>A buffer of u32 rows as numbers.</summary>
    public static uint[] U32s(byte[] rows) => MemoryMarshal.Cast<byte, uint>(rows).ToArray();

    private static unsafe bool Same(KmeshTableState a, KmeshTableState b) =>
        new ReadOnlySpan<byte>(a.Hash, 16).SequenceEqual(new ReadOnlySpan<byte>(b.Hash, 16));
}

/// <summary>The generation in force as km_meta records it: its number, slot and image content hash.</summary>
public sealed record LiveHead(ulong Generation, int Slot, string ContentHash);

/// <summary>The counters of a node: verdicts, load-balancing outcomes and per-policy counters by
/// policy name (their counter slots outlive generations).</summary>
public sealed record NodeCounters(ulong[] Verdicts, ulong[] LbOutcomes, IReadOnlyList<PolicyCounter> Policies)
{
    /// <summary>Stable names of <see cref="Verdicts"/>' rows (JSON fields, metric labels).</summary>
    public static readonly string[] VerdictKeys = ["allowedByPolicy", "noAllowPolicies", "explicitlyDenied", "noneAllowed", "error", "unparsed"];

    /// <summary>Stable names of <see cref="LbOutcomes"/>' rows.</summary>
    public static readonly string[] LbKeys = ["rewritten", "noEndpoint", "passthrough", "error"];

    public static NodeCounters Read(NodeObjects maps)
    {
        var verdicts = new ulong[Layout.VerdictUnparsed + 1];
        var vmap = maps.Map(Layout.MapVerdictStats);
        for (uint i = 0; i < verdicts.Length; i++) verdicts[i] = PerCpu.Sum(vmap.LookupPerCpu<uint, ulong>(i));
        var lb = new ulong[Layout.LbOutError + 1];
        var lmap = maps.Map(Layout.MapLbStats);
        for (uint i = 0; i < lb.Length; i++) lb[i] = PerCpu.Sum(lmap.LookupPerCpu<uint, ulong>(i));
        var p = new Publisher(maps);
        int slot = p.ActiveSlot();
        var meta = p.ReadMeta(slot);
        int policyTable = Layout.ImageMaps.IndexOf(Layout.Map(Layout.MapPolicies));
        int count = meta.State == Layout.GenComplete ? (int)meta.Table(policyTable).Entries : 0;
        var inForce = LiveImage.U32s(maps.Map(Layout.Map(Layout.MapStatIds), slot).ArrayRows(count)).ToHashSet();
        var stats = maps.Map(Layout.MapPolicyStats);
        var rows = new List<PolicyCounter>();
        foreach (var (k, v) in maps.Map(Layout.MapStatNames).Entries())
        {
            uint counterSlot = BitConverter.ToUInt32(k);
            var per = stats.LookupPerCpu<uint, KmeshPolicyStats>(counterSlot);
            rows.Add(new PolicyCounter(Publisher.StatName(MemoryMarshal.Read<KmeshStatName>(v)), counterSlot, inForce.Contains(counterSlot),
                per.Aggregate(0UL, (a, s) => a + s.Matched), per.Aggregate(0UL, (a, s) => a + s.Denied), per.Aggregate(0UL, (a, s) => a + s.DryRunMatched)));
        }
        rows.Sort((a, b) => string.CompareOrdinal(a.Policy, b.Policy));
        return new NodeCounters(verdicts, lb, rows);
    }
}

/// <summary>One policy's counters, summed over CPUs; InForce: the generation in force has the policy.</summary>
public sealed record PolicyCounter(string Policy, uint CounterSlot, bool InForce, ulong Matched, ulong Denied, ulong DryRunMatched);
