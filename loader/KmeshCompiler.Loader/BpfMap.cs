using System.Runtime.InteropServices;
using System.Text;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>A BPF map held by its own file descriptor: created here, opened from a pin, or taken from a
/// loaded object. Keys and values are raw bytes of exactly <see cref="KeySize"/> and
/// <see cref="ValueSize"/>; the generic overloads read and write unmanaged structs that mirror the C
/// layout.</summary>
public sealed unsafe class BpfMap : IDisposable
{
    public BpfFd Fd { get; }
    public string Name { get; }
    public BpfMapType Type { get; }
    public int KeySize { get; }
    public int ValueSize { get; }
    public int MaxEntries { get; }
    public MapFlags Flags { get; }

    internal BpfMap(BpfFd fd, string name, BpfMapType type, int keySize, int valueSize, int maxEntries, MapFlags flags)
    {
        Fd = fd; Name = name; Type = type; KeySize = keySize; ValueSize = valueSize; MaxEntries = maxEntries; Flags = flags;
    }

    public bool IsPerCpu => Type is BpfMapType.PerCpuArray or BpfMapType.PerCpuHash or BpfMapType.LruPerCpuHash;

    /// <summary>Bytes one lookup returns: per-CPU maps give one 8-byte-aligned slot per possible CPU.</summary>
    public int LookupSize => IsPerCpu ? Align8(ValueSize) * PerCpu.PossibleCpus : ValueSize;

    private static int Align8(int n) => (n + 7) & ~7;

    /// <summary>Creates a map. <paramref name="innerMap"/> is the template for map-in-map types.</summary>
    public static BpfMap Create(BpfMapType type, string name, int keySize, int valueSize, int maxEntries,
        MapFlags flags = MapFlags.None, BpfMap? innerMap = null)
    {
        var opts = new LibBpf.MapCreateOpts { Sz = (nuint)sizeof(LibBpf.MapCreateOpts), MapFlags = (uint)flags };
        if (type == BpfMapType.LpmTrie) opts.MapFlags |= (uint)MapFlags.NoPrealloc;
        if (innerMap is not null) opts.InnerMapFd = (uint)innerMap.Fd.Value;
        string kname = name.Length > 15 ? name[..15] : name;
        int fd = LibBpf.MapCreate((int)type, kname, (uint)keySize, (uint)valueSize, (uint)maxEntries, &opts);
        BpfException.Check(fd, $"create map {name} ({type}, key {keySize}, value {valueSize}, {maxEntries} entries)");
        return new BpfMap(new BpfFd(fd), name, type, keySize, valueSize, maxEntries, (MapFlags)opts.MapFlags);
    }

    /// <summary>Opens a pinned map and reads its definition back from the kernel.</summary>
    public static BpfMap OpenPinned(string path)
    {
        int fd = LibBpf.ObjGet(path);
        BpfException.Check(fd, $"open pinned map {path}");
        return FromFd(new BpfFd(fd), null);
    }

    /// <summary>Wraps a map descriptor, reading type and sizes from bpf_obj_get_info_by_fd.</summary>
    public static BpfMap FromFd(BpfFd fd, string? name)
    {
        byte* info = stackalloc byte[88];
        new Span<byte>(info, 88).Clear();
        uint len = 88;
        BpfException.Check(LibBpf.ObjGetInfoByFd(fd.Value, info, &len), "read map info");
        uint U(int off) => *(uint*)(info + off);
        string kname = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(info + 24, 16)).TrimEnd('\0');
        return new BpfMap(fd, name ?? kname, (BpfMapType)U(0), (int)U(8), (int)U(12), (int)U(16), (MapFlags)U(20));
    }

    /// <summary>The kernel's id of this map (visible in bpftool map).</summary>
    public uint Id
    {
        get
        {
            byte* info = stackalloc byte[88];
            new Span<byte>(info, 88).Clear();
            uint len = 88;
            BpfException.Check(LibBpf.ObjGetInfoByFd(Fd.Value, info, &len), $"read info of map {Name}");
            return MemoryMarshal.Read<uint>(new ReadOnlySpan<byte>(info + 4, 4));
        }
    }

    /// <summary>The map's declaration as the kernel holds it (for checking a pinned map).</summary>
    public (BpfMapType Type, int KeySize, int ValueSize, int MaxEntries, MapFlags Flags) KernelInfo()
    {
        var m = FromFd(Fd.Duplicate(Name), Name);
        using (m) return (m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Flags);
    }

    /// <summary>The first <paramref name="count"/> rows of an array map, by BPF_MAP_LOOKUP_BATCH, back to
    /// back in one buffer (row i at i * <see cref="LookupSize"/>).</summary>
    public byte[] ArrayRows(int count)
    {
        if (Type is not (BpfMapType.Array or BpfMapType.PerCpuArray)) throw new InvalidOperationException($"map {Name} is not an array");
        if (count < 0 || count > MaxEntries) throw new ArgumentOutOfRangeException(nameof(count));
        var rows = new byte[(long)count * LookupSize];
        int chunk = Math.Max(1, Math.Min(count, 65536));
        var keys = new byte[KeySize * chunk];
        var batch = new byte[8];
        var opts = new LibBpf.MapBatchOpts { Sz = (nuint)sizeof(LibBpf.MapBatchOpts) };
        int done = 0;
        bool first = true;
        fixed (byte* k = keys)
        fixed (byte* v = rows)
        fixed (byte* b = batch)
        {
            while (done < count)
            {
                uint n = (uint)Math.Min(chunk, count - done);
                int rc = LibBpf.MapLookupBatch(Fd.Value, first ? null : b, b, k, v + (long)done * LookupSize, &n, &opts);
                if (rc < 0 && rc != -Errno.ENOENT) BpfException.Check(rc, $"batch lookup of map {Name}");
                done += (int)n;
                if (rc == -Errno.ENOENT || n == 0) break;
                first = false;
            }
        }
        if (done < count) throw new BpfException($"batch lookup of map {Name}: {done} of {count} rows", Errno.EIO);
        return rows;
    }

    /// <summary>Every entry of a hash map by BPF_MAP_LOOKUP_BATCH, keys and values each back to back in
    /// one buffer (entry i at i * <see cref="KeySize"/> and i * <see cref="LookupSize"/>).</summary>
    public (byte[] Keys, byte[] Values, int Count) HashEntries()
    {
        if (Type is not (BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.LruHash)) throw new InvalidOperationException($"map {Name} is not a hash map");
        int chunk = Math.Max(1, Math.Min(MaxEntries, 16384));
        var keys = new byte[KeySize * chunk];
        var vals = new byte[LookupSize * chunk];
        var batch = new byte[Math.Max(KeySize, 8)];
        var opts = new LibBpf.MapBatchOpts { Sz = (nuint)sizeof(LibBpf.MapBatchOpts) };
        int count = 0;
        bool first = true;
        while (true)
        {
            if (keys.Length < (count + chunk) * KeySize)
            {
                Array.Resize(ref keys, Math.Max(keys.Length * 2, (count + chunk) * KeySize));
                Array.Resize(ref vals, Math.Max(vals.Length * 2, (count + chunk) * LookupSize));
            }
            uint n = (uint)chunk;
            int rc;
            fixed (byte* b = batch)
            fixed (byte* k = keys)
            fixed (byte* v = vals)
                rc = LibBpf.MapLookupBatch(Fd.Value, first ? null : b, b, k + (long)count * KeySize, v + (long)count * LookupSize, &n, &opts);
            if (rc < 0 && rc != -Errno.ENOENT) BpfException.Check(rc, $"batch lookup of map {Name}");
            count += (int)n;
            if (rc == -Errno.ENOENT) return (keys, vals, count);
            if (count > MaxEntries) throw new BpfException($"batch lookup of map {Name}", Errno.ELOOP);
            first = false;
        }
    }

    /// <summary>Deletes many keys with one BPF_MAP_DELETE_BATCH (hash maps); keys packed back to back.</summary>
    public void DeleteBatch(ReadOnlySpan<byte> keys, int count)
    {
        if (count == 0) return;
        CheckSize(keys, KeySize * count, "keys");
        var opts = new LibBpf.MapBatchOpts { Sz = (nuint)sizeof(LibBpf.MapBatchOpts) };
        int done = 0;
        fixed (byte* k = keys)
        {
            while (done < count)
            {
                uint n = (uint)(count - done);
                int rc = LibBpf.MapDeleteBatch(Fd.Value, k + (long)done * KeySize, &n, &opts);
                if (rc < 0) throw new BpfException($"batch delete from map {Name} (entry {done + (int)n} of {count})", -rc);
                if (n == 0) throw new BpfException($"batch delete from map {Name}", Errno.EIO);
                done += (int)n;
            }
        }
    }

    /// <summary>Pins the map at a path on a bpffs mount.</summary>
    public void Pin(string path) => BpfException.Check(LibBpf.ObjPin(Fd.Value, path), $"pin map {Name} at {path}");

    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdate flags = MapUpdate.Any)
    {
        CheckSize(key, KeySize, "key");
        CheckSize(value, LookupSize, "value");
        fixed (byte* k = key)
        fixed (byte* v = value)
            BpfException.Check(LibBpf.MapUpdateElem(Fd.Value, k, v, (ulong)flags), $"update map {Name}");
    }

    public void Update<TKey, TValue>(TKey key, TValue value, MapUpdate flags = MapUpdate.Any)
        where TKey : unmanaged where TValue : unmanaged
        => Update(MemoryMarshal.AsBytes(new ReadOnlySpan<TKey>(ref key)), MemoryMarshal.AsBytes(new ReadOnlySpan<TValue>(ref value)), flags);

    /// <summary>Looks a key up; false when absent (ENOENT), an exception for any other error.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value)
    {
        CheckSize(key, KeySize, "key");
        CheckSize(value, LookupSize, "value");
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            int rc = LibBpf.MapLookupElem(Fd.Value, k, v);
            if (rc == -Errno.ENOENT) return false;
            BpfException.Check(rc, $"look up in map {Name}");
            return true;
        }
    }

    public bool TryLookup<TKey, TValue>(TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        value = default;
        return TryLookup(MemoryMarshal.AsBytes(new ReadOnlySpan<TKey>(ref key)), MemoryMarshal.AsBytes(new Span<TValue>(ref value)));
    }

    /// <summary>Values of a per-CPU map for one key, one per possible CPU (empty when absent).</summary>
    public TValue[] LookupPerCpu<TKey, TValue>(TKey key) where TKey : unmanaged where TValue : unmanaged
    {
        if (!IsPerCpu) throw new InvalidOperationException($"map {Name} is not per-CPU");
        if (sizeof(TValue) != ValueSize) throw new ArgumentException($"map {Name}: value is {ValueSize} bytes, {typeof(TValue).Name} is {sizeof(TValue)}");
        var buf = new byte[LookupSize];
        if (!TryLookup(MemoryMarshal.AsBytes(new ReadOnlySpan<TKey>(ref key)), buf)) return [];
        int slot = Align8(ValueSize);
        var res = new TValue[PerCpu.PossibleCpus];
        for (int i = 0; i < res.Length; i++) res[i] = MemoryMarshal.Read<TValue>(buf.AsSpan(i * slot, ValueSize));
        return res;
    }

    /// <summary>Deletes a key; false when it was absent.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckSize(key, KeySize, "key");
        fixed (byte* k = key)
        {
            int rc = LibBpf.MapDeleteElem(Fd.Value, k);
            if (rc == -Errno.ENOENT) return false;
            BpfException.Check(rc, $"delete from map {Name}");
            return true;
        }
    }

    /// <summary>Every key, in the kernel's iteration order.</summary>
    public List<byte[]> Keys()
    {
        var keys = new List<byte[]>();
        var cur = new byte[KeySize];
        var next = new byte[KeySize];
        bool first = true;
        while (true)
        {
            int rc;
            fixed (byte* c = cur)
            fixed (byte* n = next)
                rc = LibBpf.MapGetNextKey(Fd.Value, first ? null : c, n);
            if (rc == -Errno.ENOENT) return keys;
            BpfException.Check(rc, $"iterate map {Name}");
            keys.Add((byte[])next.Clone());
            (cur, next) = (next, cur);
            first = false;
            if (keys.Count > MaxEntries + 1) throw new BpfException($"iterate map {Name}", Errno.ELOOP);
        }
    }

    /// <summary>Writes many entries with one BPF_MAP_UPDATE_BATCH (not atomic for readers). Keys and
    /// values are packed back to back.</summary>
    public void UpdateBatch(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, int count, MapUpdate flags = MapUpdate.Any)
    {
        if (count == 0) return;
        CheckSize(keys, KeySize * count, "keys");
        CheckSize(values, LookupSize * count, "values");
        var opts = new LibBpf.MapBatchOpts { Sz = (nuint)sizeof(LibBpf.MapBatchOpts), ElemFlags = (ulong)flags };
        int done = 0;
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            while (done < count)
            {
                uint n = (uint)(count - done);
                int rc = LibBpf.MapUpdateBatch(Fd.Value, k + (long)done * KeySize, v + (long)done * LookupSize, &n, &opts);
                if (rc < 0) throw new BpfException($"batch update of map {Name} (entry {done + (int)n} of {count})", -rc);
                if (n == 0) throw new BpfException($"batch update of map {Name}", Errno.EIO);
                done += (int)n;
            }
        }
    }

    /// <summary>Reads every entry with BPF_MAP_LOOKUP_BATCH where the map type has it, else key by key.</summary>
    public List<(byte[] Key, byte[] Value)> Entries()
    {
        var res = new List<(byte[], byte[])>();
        if (Type is BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.Array or BpfMapType.PerCpuArray or BpfMapType.LruHash)
        {
            int chunk = Math.Max(1, Math.Min(MaxEntries, 4096));
            var keys = new byte[KeySize * chunk];
            var vals = new byte[LookupSize * chunk];
            var batch = new byte[Math.Max(KeySize, 8)];
            var opts = new LibBpf.MapBatchOpts { Sz = (nuint)sizeof(LibBpf.MapBatchOpts) };
            bool first = true;
            while (true)
            {
                uint n = (uint)chunk;
                int rc;
                fixed (byte* b = batch)
                fixed (byte* k = keys)
                fixed (byte* v = vals)
                    rc = LibBpf.MapLookupBatch(Fd.Value, first ? null : b, b, k, v, &n, &opts);
                if (rc < 0 && rc != -Errno.ENOENT)
                {
                    if (first && (rc == -Errno.EINVAL || rc == -Errno.ENOTSUPP || rc == -Errno.EOPNOTSUPP)) break;
                    BpfException.Check(rc, $"batch lookup of map {Name}");
                }
                for (int i = 0; i < n; i++)
                    res.Add((keys.AsSpan(i * KeySize, KeySize).ToArray(), vals.AsSpan(i * LookupSize, LookupSize).ToArray()));
                if (rc == -Errno.ENOENT) return res;
                first = false;
            }
        }
        foreach (var key in Keys())
        {
            var v = new byte[LookupSize];
            if (TryLookup(key, v)) res.Add((key, v));
        }
        return res;
    }

    /// <summary>Puts a program into a slot of a BPF_MAP_TYPE_PROG_ARRAY.</summary>
    public void SetProgram(uint index, BpfProgram program)
    {
        if (Type != BpfMapType.ProgArray) throw new InvalidOperationException($"map {Name} is not a program array");
        uint fd = (uint)program.Fd.Value;
        Update(index, fd);
    }

    private void CheckSize(ReadOnlySpan<byte> s, int expected, string what)
    {
        if (s.Length != expected) throw new ArgumentException($"map {Name}: {what} is {s.Length} bytes, expected {expected}");
    }

    public override string ToString() => $"{Name} ({Type}, key {KeySize}, value {ValueSize}, max {MaxEntries})";

    public void Dispose() => Fd.Dispose();
}
