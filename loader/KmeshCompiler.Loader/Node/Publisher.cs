using System.Diagnostics;
using System.Runtime.InteropServices;
using System.IO.Hashing;

namespace KmeshCompiler.Loader.Node;

/// <summary>What one load wrote to one table of the staging generation: rows added, removed and
/// changed against what that slot held, or nothing when it already held the same rows.</summary>
public sealed record TableChange(string Table, int Added, int Removed, int Changed, bool Written)
{
    /// <summary>Time spent reading the table back and writing it.</summary>
    public double Ms { get; init; }
}

/// <summary>The outcome of a load: the generation now in force and its slot, whether anything
/// changed (false: the image was already in force), what each table needed, how long until the new
/// generation was live and until the load finished, and the kernel writes it took.</summary>
public sealed record PublishReport(ulong Generation, int Slot, bool Changed, IReadOnlyList<TableChange> Tables,
    TimeSpan Live, TimeSpan Total, long Writes)
{
    /// <summary>Where the time went: (phase, milliseconds since the previous phase), in order.</summary>
    public IReadOnlyList<(string Phase, double Ms)> Phases { get; init; } = [];
}

/// <summary>Publishes images into a node's maps by generations (loader/README.md): the tables of the
/// slot not in force are brought to the new image (only the rows that differ), then km_active is
/// switched by one write, so every packet sees the old image or the new one and never a mix. Before
/// the first write to a slot the publisher waits until no packet can still be reading it.</summary>
public sealed class Publisher(NodeObjects maps, FaultPoint? fault = null, SlotMemory? memory = null)
{
    private readonly FaultPoint _fault = fault ?? new FaultPoint();

    /// <summary>Refuses an image whose tables do not have the layout's shape, before any kernel write.</summary>
    public static void Check(ImageFile image)
    {
        if (!string.Equals(image.AbiHash, Layout.AbiHash, StringComparison.OrdinalIgnoreCase))
            throw new LoaderException(LoaderError.BadImage,
                $"the image was compiled for table ABI {Short(image.AbiHash)}, this kmeshc and its programs have {Short(Layout.AbiHash)}: recompile the image with this kmeshc");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in image.Sections)
        {
            var spec = Layout.ImageMaps.FirstOrDefault(m => m.Name == s.Name)
                ?? throw new LoaderException(LoaderError.BadImage, $"the image has a table {s.Name} that the programs do not read");
            if (!seen.Add(s.Name)) throw new LoaderException(LoaderError.BadImage, $"the image has table {s.Name} twice");
            if (s.Type != spec.Type || s.KeySize != spec.KeySize || s.ValueSize != spec.ValueSize || s.MaxEntries != spec.MaxEntries || s.Flags != spec.Flags)
                throw new LoaderException(LoaderError.BadImage, $"table {s.Name} of the image is declared {s.Type}/{s.KeySize}/{s.ValueSize}/{s.MaxEntries}/{s.Flags}, the programs read {spec.Type}/{spec.KeySize}/{spec.ValueSize}/{spec.MaxEntries}/{spec.Flags}");
            if ((uint)s.Entries.Length > spec.MaxEntries)
                throw new LoaderException(LoaderError.BadImage, $"table {s.Name} has {s.Entries.Length} entries, more than its {spec.MaxEntries}");
            // A section object already found well-formed (sections are immutable) is not walked again.
            if (WellFormed.TryGetValue(s, out _)) continue;
            // So is one spliced from a well-formed one (the splice checked the rows it added).
            if (s.Type != BpfMapType.Array && RowSums.DerivedFrom(s) is { } parent && WellFormed.TryGetValue(parent, out var parentSpec) && parentSpec == spec
                && parent.KeySize == s.KeySize && parent.ValueSize == s.ValueSize && parent.Type == s.Type)
            {
                WellFormed.AddOrUpdate(s, spec);
                continue;
            }
            for (int i = 0; i < s.Entries.Length; i++)
            {
                var e = s.Entries[i];
                if (e.Key.Length != spec.KeySize || e.Value.Length != spec.ValueSize)
                    throw new LoaderException(LoaderError.BadImage, $"table {s.Name}, entry {i}: key or value of the wrong size");
                if (spec.Type == BpfMapType.Array && BitConverter.ToUInt32(e.Key) != (uint)i)
                    throw new LoaderException(LoaderError.BadImage, $"table {s.Name}: array rows must be 0..{s.Entries.Length - 1} in order, row {i} has index {BitConverter.ToUInt32(e.Key)}");
                if (spec.Type != BpfMapType.Array && i > 0 && s.Entries[i - 1].Key.AsSpan().SequenceCompareTo(e.Key) >= 0)
                    throw new LoaderException(LoaderError.BadImage, $"table {s.Name}: keys must be strictly ascending, entry {i} is not");
            }
            WellFormed.AddOrUpdate(s, spec);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ImageSection, MapSpec> WellFormed = new();

    private static string Short(string hash) => hash.Length > 12 ? hash[..12] + "…" : hash;

    /// <summary>Makes <paramref name="image"/> the generation in force. <paramref name="contentHash"/>
    /// is the image file's content hash when the caller has it (else it is computed).</summary>
    public PublishReport Publish(ImageFile image, string? contentHash = null)
    {
        var clock = Stopwatch.StartNew();
        var phases = new List<(string, double)>();
        double last = 0;
        void Phase(string name)
        {
            double now = clock.Elapsed.TotalMilliseconds;
            phases.Add((name, now - last));
            last = now;
        }
        Check(image);
        contentHash ??= image.ContentHash();
        var state = ReadState();
        CheckAbi(state);
        int active = ActiveSlot();
        int staging = 1 - active;
        var metaA = ReadMeta(active);
        var metaS = ReadMeta(staging);
        if (metaA.State == Layout.GenComplete && ContentHex(metaA) == contentHash)
            return new PublishReport(metaA.Generation, active, false, [], TimeSpan.Zero, clock.Elapsed, 0);

        // Packets that read the staging slot before the last switch must be gone before it is written.
        if (metaA.Generation != state.Quiesced) Quiesce(ref state, metaA.Generation);

        bool trusted = metaS.State == Layout.GenComplete;
        var writing = metaS;
        writing.State = Layout.GenWriting;
        WriteMeta(staging, writing);

        var meta = new KmeshMeta
        {
            FormatVersion = ImageFile.FormatVersion,
            AbiVersion = Layout.AbiVersion,
            Generation = Math.Max(metaA.Generation, metaS.Generation) + 1,
            State = Layout.GenComplete,
        };
        SetBytes(ref meta, Convert.FromHexString(image.AbiHash), Convert.FromHexString(contentHash));
        Phase("check and open");
        var changes = new List<TableChange>();
        for (int i = 0; i < Layout.ImageMaps.Length; i++)
        {
            var spec = Layout.ImageMaps[i];
            var section = image.Section(spec.Name);
            var entries = section?.Entries ?? [];
            var table = TableState(section);
            meta.SetTable(i, table);
            if (trusted && SameTable(metaS.Table(i), table))
            {
                changes.Add(new TableChange(spec.In(staging), 0, 0, 0, false));
                continue;
            }
            double t0 = clock.Elapsed.TotalMilliseconds;
            // What the slot holds, known without reading it back when this process wrote it last.
            var held = trusted ? memory?.Held(staging, i, metaS.Table(i)) : null;
            var change = held is not null
                ? WriteTableFrom(maps.Map(spec, staging), spec.In(staging), held, entries)
                : WriteTable(maps.Map(spec, staging), spec.In(staging), entries, trusted ? (int)metaS.Table(i).Entries : -1);
            changes.Add(change with { Ms = clock.Elapsed.TotalMilliseconds - t0 });
        }
        for (int i = 0; i < Layout.ImageMaps.Length; i++)
            memory?.Wrote(staging, i, meta.Table(i), image.Section(Layout.ImageMaps[i].Name)?.Entries ?? []);
        Phase("tables");
        var namesHash = NamesFingerprint(image.Node, image.Names);
        unsafe { namesHash.CopyTo(new Span<byte>(meta.NamesHash, 16)); }
        if (trusted && NamesHashOf(metaS).SequenceEqual(namesHash)) meta.NamesLen = metaS.NamesLen;
        else
        {
            var blob = image.NamesBlob();
            meta.NamesLen = (uint)blob.Length;
            WriteNames(maps.Map(Layout.Map(Layout.MapNames), staging), blob);
        }
        Phase("names");
        WriteCounterSlots(image, active, metaA, staging);
        Phase("counter slots");
        WriteMeta(staging, meta);

        // The switch: one write of one word. From here on every new packet reads the new generation.
        maps.Map(Layout.MapActive).Update(0u, (uint)staging);
        _fault.Wrote();
        var live = clock.Elapsed;
        Phase("switch");

        // Retire the old generation: once no packet can read it, the next load may write it.
        Quiesce(ref state, meta.Generation);
        Phase("retire the old generation");
        return new PublishReport(meta.Generation, staging, true, changes, live, clock.Elapsed, _fault.Writes) { Phases = phases };
    }

    /// <summary>Records the ABI of the programs on first use; refuses programs pinned with another.</summary>
    public void CheckAbi(KmeshLoaderState state)
    {
        string pinned;
        unsafe { pinned = Convert.ToHexStringLower(new ReadOnlySpan<byte>(state.AbiHash, 32)); }
        if (pinned.Trim('0').Length == 0) return;
        if (pinned != Layout.AbiHash)
            throw new LoaderException(LoaderError.AbiMismatch,
                $"the pinned programs have table ABI {Short(pinned)}, this kmeshc {Short(Layout.AbiHash)}: use the kmeshc that pinned them, or `kmeshc unload` first");
    }

    /// <summary>Writes this kmeshc's ABI into a fresh data plane's km_state.</summary>
    public void InitState()
    {
        var s = new KmeshLoaderState();
        unsafe { Convert.FromHexString(Layout.AbiHash).CopyTo(new Span<byte>(s.AbiHash, 32)); }
        maps.Map(Layout.MapState).Update(0u, s);
        _fault.Wrote();
    }

    public int ActiveSlot() => maps.Map(Layout.MapActive).TryLookup(0u, out uint g) ? (int)(g & 1) : 0;

    public KmeshMeta ReadMeta(int slot) => maps.Map(Layout.MapMeta).TryLookup((uint)slot, out KmeshMeta m) ? m : default;

    public KmeshLoaderState ReadState() => maps.Map(Layout.MapState).TryLookup(0u, out KmeshLoaderState s) ? s : default;

    private void WriteMeta(int slot, KmeshMeta meta)
    {
        maps.Map(Layout.MapMeta).Update((uint)slot, meta);
        _fault.Wrote();
    }

    /// <summary>Waits for every program run that started before now (one update of km_rcu, which
    /// returns after an RCU grace period), then records that generation as quiesced.</summary>
    private void Quiesce(ref KmeshLoaderState state, ulong generation)
    {
        using (var inner = BpfMap.Create(BpfMapType.Array, "km_rcu_inner", sizeof(uint), sizeof(uint), 1))
            maps.Map(Layout.MapRcu).Update(0u, (uint)inner.Fd.Value);
        _fault.Wrote();
        state.Quiesced = generation;
        maps.Map(Layout.MapState).Update(0u, state);
        _fault.Wrote();
    }

    private static unsafe void SetBytes(ref KmeshMeta m, byte[] abi, byte[] content)
    {
        fixed (byte* a = m.AbiHash) abi.CopyTo(new Span<byte>(a, 32));
        fixed (byte* c = m.ContentHash) content.CopyTo(new Span<byte>(c, 32));
    }

    /// <summary>The content hash of the image a generation record describes, in hex.</summary>
    public static unsafe string ContentHex(KmeshMeta m) => Convert.ToHexStringLower(new ReadOnlySpan<byte>(m.ContentHash, 32));

    public static unsafe string AbiHex(KmeshMeta m) => Convert.ToHexStringLower(new ReadOnlySpan<byte>(m.AbiHash, 32));

    public static unsafe byte[] NamesHashOf(KmeshMeta m) => new ReadOnlySpan<byte>(m.NamesHash, 16).ToArray();

    /// <summary>The fingerprint of an image's names (km_meta.names_hash): the node name's XXH128 plus,
    /// for every name, the XXH128 of its UTF-16 text seeded with its kind and id, summed so that it
    /// needs neither the encoded blob nor an order.</summary>
    public static byte[] NamesFingerprint(string node, IEnumerable<KeyValuePair<(NameKind Kind, uint Id), string>> names)
    {
        UInt128 sum = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(node.AsSpan()));
        foreach (var (key, name) in names)
            sum += XxHash128.HashToUInt128(MemoryMarshal.AsBytes(name.AsSpan()), (long)(((ulong)key.Kind << 32) | key.Id));
        var bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(bytes, sum);
        return bytes;
    }

    /// <summary>A table's state as km_meta records it: entry count, presence, and the table's row
    /// fingerprint (<see cref="RowSums"/>), which a section derived from another gets from the other's.</summary>
    public static KmeshTableState TableState(ImageSection? section) =>
        section is null ? State(0, false, 0) : State(section.Entries.Length, true, RowSums.Of(section));

    /// <summary>The state of rows read back from a map.</summary>
    public static KmeshTableState TableState(IReadOnlyList<ImageEntry> entries, bool present) => State(entries.Count, present, RowSums.Of(entries));

    private static unsafe KmeshTableState State(int entries, bool present, UInt128 sum)
    {
        var t = new KmeshTableState { Entries = (uint)entries, Reserved = present ? 1u : 0u };
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(new Span<byte>(t.Hash, 16), sum);
        return t;
    }

    private static unsafe bool SameTable(KmeshTableState a, KmeshTableState b) =>
        a.Entries == b.Entries && a.Reserved == b.Reserved && new ReadOnlySpan<byte>(a.Hash, 16).SequenceEqual(new ReadOnlySpan<byte>(b.Hash, 16));

    /// <summary>Brings one map to exactly <paramref name="entries"/>, writing only the rows that
    /// differ from what it holds (read back from the kernel). Array rows past the new count are left
    /// as they are: no row of the new image refers to them.</summary>
    private TableChange WriteTable(BpfMap map, string name, IReadOnlyList<ImageEntry> entries, int oldCount)
    {
        int added = 0, removed = 0, changed = 0;
        if (map.Type == BpfMapType.Array)
        {
            var current = map.ArrayRows(entries.Count);
            int size = map.ValueSize;
            var idx = new List<int>();
            for (int i = 0; i < entries.Count; i++)
            {
                if (current.AsSpan(i * size, size).SequenceEqual(entries[i].Value)) continue;
                idx.Add(i);
                if (oldCount >= 0 && i >= oldCount) added++; else changed++;
            }
            if (oldCount > entries.Count) removed = oldCount - entries.Count;
            WriteBatch(map, idx.Select(i => entries[i]).ToList());
            return new TableChange(name, added, removed, changed, true);
        }
        var gone = new List<byte[]>();
        var put = new List<ImageEntry>();
        if (map.Type == BpfMapType.LpmTrie)
        {
            var have = new Dictionary<byte[], byte[]>(ByteArrayComparer.Instance);
            foreach (var (k, v) in LpmEntries(map)) have[k] = v;
            var want = new HashSet<byte[]>(entries.Select(e => e.Key), ByteArrayComparer.Instance);
            gone.AddRange(have.Keys.Where(k => !want.Contains(k)));
            foreach (var e in entries)
            {
                if (!have.TryGetValue(e.Key, out var v)) { added++; put.Add(e); }
                else if (!v.AsSpan().SequenceEqual(e.Value)) { changed++; put.Add(e); }
            }
        }
        else
        {
            // Both sides in key order (image sections are sorted by key bytes), then one merge walk.
            var (keys, vals, n) = map.HashEntries();
            int ks = map.KeySize, vs = map.LookupSize;
            var order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            Array.Sort(order, (a, b) => keys.AsSpan(a * ks, ks).SequenceCompareTo(keys.AsSpan(b * ks, ks)));
            int x = 0, y = 0;
            while (x < n || y < entries.Count)
            {
                int cmp = x == n ? 1 : y == entries.Count ? -1 : keys.AsSpan(order[x] * ks, ks).SequenceCompareTo(entries[y].Key);
                if (cmp < 0) { gone.Add(keys.AsSpan(order[x] * ks, ks).ToArray()); x++; }
                else if (cmp > 0) { added++; put.Add(entries[y]); y++; }
                else
                {
                    if (!vals.AsSpan(order[x] * vs, vs).SequenceEqual(entries[y].Value)) { changed++; put.Add(entries[y]); }
                    x++;
                    y++;
                }
            }
        }
        removed = gone.Count;
        Apply(map, gone, put);
        return new TableChange(name, added, removed, changed, true);
    }

    /// <summary>Brings one map from <paramref name="held"/> (what it holds, as this process wrote it)
    /// to <paramref name="entries"/>: the same rows as <see cref="WriteTable"/> writes, found by
    /// comparing the two images' sorted rows instead of reading the map back.</summary>
    private TableChange WriteTableFrom(BpfMap map, string name, IReadOnlyList<ImageEntry> held, IReadOnlyList<ImageEntry> entries)
    {
        int added = 0, removed = 0, changed = 0;
        var put = new List<ImageEntry>();
        var gone = new List<byte[]>();
        if (map.Type == BpfMapType.Array)
        {
            for (int i = 0; i < entries.Count; i++)
            {
                if (i < held.Count && held[i].Value.AsSpan().SequenceEqual(entries[i].Value)) continue;
                put.Add(entries[i]);
                if (i >= held.Count) added++; else changed++;
            }
            if (held.Count > entries.Count) removed = held.Count - entries.Count;
            WriteBatch(map, put);
            return new TableChange(name, added, removed, changed, true);
        }
        int x = 0, y = 0;
        while (x < held.Count || y < entries.Count)
        {
            // Rows an incremental compile carried over are the same arrays: no bytes to compare.
            if (x < held.Count && y < entries.Count && ReferenceEquals(held[x].Key, entries[y].Key) && ReferenceEquals(held[x].Value, entries[y].Value)) { x++; y++; continue; }
            int cmp = x == held.Count ? 1 : y == entries.Count ? -1 : held[x].Key.AsSpan().SequenceCompareTo(entries[y].Key);
            if (cmp < 0) { gone.Add(held[x].Key); x++; }
            else if (cmp > 0) { added++; put.Add(entries[y]); y++; }
            else
            {
                if (!held[x].Value.AsSpan().SequenceEqual(entries[y].Value)) { changed++; put.Add(entries[y]); }
                x++;
                y++;
            }
        }
        removed = gone.Count;
        Apply(map, gone, put);
        return new TableChange(name, added, removed, changed, true);
    }

    private void Apply(BpfMap map, List<byte[]> gone, List<ImageEntry> put)
    {
        if (map.Type == BpfMapType.LpmTrie)
        {
            foreach (var k in gone) { map.Delete(k); _fault.Wrote(); }
            foreach (var e in put) { map.Update(e.Key, e.Value); _fault.Wrote(); }
            return;
        }
        if (gone.Count > 0)
        {
            var keys = new byte[map.KeySize * gone.Count];
            for (int i = 0; i < gone.Count; i++) gone[i].CopyTo(keys, i * map.KeySize);
            map.DeleteBatch(keys, gone.Count);
            _fault.Wrote();
        }
        WriteBatch(map, put);
    }

    private static List<(byte[] Key, byte[] Value)> LpmEntries(BpfMap map)
    {
        var res = new List<(byte[], byte[])>();
        foreach (var k in map.Keys())
        {
            var v = new byte[map.ValueSize];
            if (map.TryLookup(k, v)) res.Add((k, v));
        }
        return res;
    }

    private void WriteBatch(BpfMap map, IReadOnlyList<ImageEntry> rows)
    {
        if (rows.Count == 0) return;
        var keys = new byte[map.KeySize * rows.Count];
        var vals = new byte[map.ValueSize * rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            rows[i].Key.CopyTo(keys, i * map.KeySize);
            rows[i].Value.CopyTo(vals, i * map.ValueSize);
        }
        map.UpdateBatch(keys, vals, rows.Count);
        _fault.Wrote();
    }

    private void WriteNames(BpfMap map, byte[] blob)
    {
        int chunks = (blob.Length + Layout.NamesChunk - 1) / Layout.NamesChunk;
        if ((uint)chunks > Layout.MaxNamesChunks)
            throw new LoaderException(LoaderError.BadImage, $"the image's names take {blob.Length} bytes, more than the {Layout.MaxNamesChunks * Layout.NamesChunk} a generation keeps");
        var stale = map.Keys().Where(k => BitConverter.ToUInt32(k) >= chunks).ToList();
        if (stale.Count > 0)
        {
            map.DeleteBatch(stale.SelectMany(k => k).ToArray(), stale.Count);
            _fault.Wrote();
        }
        var rows = new List<ImageEntry>(chunks);
        for (int i = 0; i < chunks; i++)
        {
            var chunk = new byte[Layout.NamesChunk];
            blob.AsSpan(i * Layout.NamesChunk, Math.Min(Layout.NamesChunk, blob.Length - i * Layout.NamesChunk)).CopyTo(chunk);
            rows.Add(new ImageEntry(BitConverter.GetBytes((uint)i), chunk));
        }
        WriteBatch(map, rows);
    }

    /// <summary>Gives every policy of the image a counter slot by its name (km_stat_names), keeping
    /// the slots of names already there, and writes the staging generation's km_stat_ids. Slots no
    /// policy of the new or the active generation names are freed and their counters zeroed.</summary>
    private void WriteCounterSlots(ImageFile image, int active, KmeshMeta metaA, int staging)
    {
        var namesMap = maps.Map(Layout.MapStatNames);
        var owner = new Dictionary<uint, string>();
        foreach (var (k, v) in namesMap.Entries())
        {
            var n = MemoryMarshal.Read<KmeshStatName>(v);
            owner[BitConverter.ToUInt32(k)] = StatName(n);
        }
        int policies = image.Section(Layout.MapPolicies)?.Entries.Length ?? 0;
        var wanted = new string[policies];
        for (uint id = 0; id < policies; id++) wanted[id] = image.Name(NameKind.Policy, id) ?? $"policy#{id}";
        int policyTable = Layout.ImageMaps.IndexOf(Layout.Map(Layout.MapPolicies));
        int activeCount = metaA.State == Layout.GenComplete ? (int)metaA.Table(policyTable).Entries : 0;
        var inForce = LiveImage.U32s(maps.Map(Layout.Map(Layout.MapStatIds), active).ArrayRows(activeCount)).ToHashSet();
        var wantedSet = wanted.ToHashSet(StringComparer.Ordinal);
        var policyStats = maps.Map(Layout.MapPolicyStats);
        foreach (var (slot, name) in owner.ToList())
        {
            if (inForce.Contains(slot) || wantedSet.Contains(name)) continue;
            namesMap.Delete(BitConverter.GetBytes(slot));
            _fault.Wrote();
            policyStats.Update(BitConverter.GetBytes(slot), new byte[policyStats.LookupSize]);
            _fault.Wrote();
            owner.Remove(slot);
        }
        var byName = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var (slot, name) in owner) byName.TryAdd(name, slot);
        var fresh = new List<ImageEntry>();
        uint next = 0;
        var ids = new List<ImageEntry>(policies);
        for (uint id = 0; id < policies; id++)
        {
            if (!byName.TryGetValue(wanted[id], out uint slot))
            {
                while (owner.ContainsKey(next)) next++;
                if (next >= Layout.MaxStatNames)
                    throw new LoaderException(LoaderError.BadImage, $"more than {Layout.MaxStatNames} policies have counters");
                slot = next;
                owner[slot] = wanted[id];
                byName[wanted[id]] = slot;
                fresh.Add(new ImageEntry(BitConverter.GetBytes(slot), StatNameBytes(wanted[id])));
            }
            ids.Add(new ImageEntry(BitConverter.GetBytes(id), BitConverter.GetBytes(slot)));
        }
        WriteBatch(namesMap, fresh);
        WriteTable(maps.Map(Layout.Map(Layout.MapStatIds), staging), Layout.Map(Layout.MapStatIds).In(staging), ids, -1);
    }

    public static unsafe string StatName(KmeshStatName n) =>
        System.Text.Encoding.UTF8.GetString(n.Name, (int)Math.Min(n.Len, (uint)Layout.StatNameMax));

    private static unsafe byte[] StatNameBytes(string name)
    {
        var n = new KmeshStatName();
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        int len = Math.Min(bytes.Length, Layout.StatNameMax);
        n.Len = (uint)len;
        bytes.AsSpan(0, len).CopyTo(new Span<byte>(n.Name, Layout.StatNameMax));
        return MemoryMarshal.AsBytes(new ReadOnlySpan<KmeshStatName>(ref n)).ToArray();
    }
}

/// <summary>What this process last wrote to each table of each slot of one node's maps, with the
/// table state (entry count and hash) the slot's generation record gives it: a later load into that
/// slot finds the rows that differ by comparing images, without reading the table back. An entry is
/// used only while the slot's complete generation record still gives the same state, which is the
/// trust the publisher already puts in a record to skip an unchanged table: a load by another process
/// or a crash mid-write (the record says "writing") makes the publisher read the map as before.</summary>
public sealed class SlotMemory
{
    private readonly Dictionary<(int Slot, int Table), (KmeshTableState State, IReadOnlyList<ImageEntry> Entries)> _held = new();

    /// <remarks>Keyed by slot and table only: a record's state (count and hash of the rows) names its
    /// rows, whichever node's maps hold them.</remarks>
    internal IReadOnlyList<ImageEntry>? Held(int slot, int table, KmeshTableState recorded)
    {
        lock (_held)
            return _held.TryGetValue((slot, table), out var h) && Same(h.State, recorded) ? h.Entries : null;
    }

    internal void Wrote(int slot, int table, KmeshTableState state, IReadOnlyList<ImageEntry> entries)
    {
        lock (_held) _held[(slot, table)] = (state, entries);
    }

    private static unsafe bool Same(KmeshTableState a, KmeshTableState b) =>
        a.Entries == b.Entries && a.Reserved == b.Reserved && new ReadOnlySpan<byte>(a.Hash, 16).SequenceEqual(new ReadOnlySpan<byte>(b.Hash, 16));
}

/// <summary>Byte arrays compared by content (map keys).</summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
