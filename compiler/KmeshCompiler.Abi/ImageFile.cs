using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace KmeshCompiler.Abi;

/// <summary>One map of an image: its declaration and its entries, sorted by key bytes (arrays by
/// index), so equal tables give equal bytes.</summary>
public sealed record ImageSection(string Name, BpfMapType Type, int KeySize, int ValueSize, uint MaxEntries, uint Flags,
    ImmutableArray<ImageEntry> Entries)
{
    public static ImageSection For(MapSpec spec, IEnumerable<ImageEntry> entries)
    {
        var arr = entries.ToArray();
        if (spec.Type == BpfMapType.Array)
        {
            var idx = new uint[arr.Length];
            bool sorted = true;
            for (int i = 0; i < arr.Length; i++)
            {
                idx[i] = BinaryPrimitives.ReadUInt32LittleEndian(arr[i].Key);
                if (i > 0 && idx[i] <= idx[i - 1]) sorted = false;
            }
            // Rows built in index order (every array the lowering writes) need no sort.
            if (!sorted) Array.Sort(idx, arr);
        }
        else if (spec.KeySize <= 16)
        {
            // Byte order of a key of at most 16 bytes is the numeric order of its big-endian value.
            var keys = new UInt128[arr.Length];
            Span<byte> pad = stackalloc byte[16];
            for (int i = 0; i < arr.Length; i++)
            {
                pad.Clear();
                arr[i].Key.CopyTo(pad);
                keys[i] = BinaryPrimitives.ReadUInt128BigEndian(pad);
            }
            Array.Sort(keys, arr);
        }
        else Array.Sort(arr, (a, b) => ByteOrder.Instance.Compare(a.Key, b.Key));
        // arr is this method's own copy: wrapped, not copied again.
        return new(spec.Name, spec.Type, spec.KeySize, spec.ValueSize, spec.MaxEntries, spec.Flags, ImmutableCollectionsMarshal.AsImmutableArray(arr));
    }
}

public readonly record struct ImageEntry(byte[] Key, byte[] Value);

/// <summary>A table's row fingerprint (docs/image.md): the sum, modulo 2^128, of the XXH3-128 of
/// every row (key bytes then value bytes). A sum does not depend on the order of the rows, so a table
/// derived from another by removing and adding a few rows gets its fingerprint from the other's by
/// subtracting and adding those rows' hashes (<see cref="Derive"/>): an incremental compile that
/// changes ten rows of a table of a million hashes ten rows. The order itself is not left to the
/// fingerprint: readers check that keys ascend. Computed once per section object.</summary>
public static class RowSums
{
    private sealed class Box(UInt128 sum) { public UInt128 Sum { get; } = sum; }

    private static readonly ConditionalWeakTable<ImageSection, Box> Sums = new();

    /// <summary>The XXH3-128 of one row: its key bytes, then its value bytes.</summary>
    public static UInt128 Row(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        Span<byte> buffer = stackalloc byte[256];
        int n = key.Length + value.Length;
        if (n > buffer.Length) buffer = new byte[n];
        key.CopyTo(buffer);
        value.CopyTo(buffer[key.Length..]);
        return System.IO.Hashing.XxHash128.HashToUInt128(buffer[..n]);
    }

    public static UInt128 Of(IEnumerable<ImageEntry> rows)
    {
        UInt128 sum = 0;
        foreach (var e in rows) sum += Row(e.Key, e.Value);
        return sum;
    }

    /// <summary>The fingerprint of a section's rows.</summary>
    public static UInt128 Of(ImageSection s) => Sums.GetValue(s, x => new Box(Of(x.Entries))).Sum;

    /// <summary>Records that <paramref name="child"/> holds the rows of <paramref name="parent"/>
    /// without <paramref name="removed"/> and with <paramref name="added"/>: its fingerprint follows
    /// from the parent's with the work of the changed rows only.</summary>
    public static ImageSection Derive(ImageSection parent, ImageSection child, IEnumerable<ImageEntry> removed, IEnumerable<ImageEntry> added)
    {
        UInt128 sum = Of(parent);
        foreach (var e in removed) sum -= Row(e.Key, e.Value);
        foreach (var e in added) sum += Row(e.Key, e.Value);
        Sums.AddOrUpdate(child, new Box(sum));
        Parents.AddOrUpdate(child, new WeakReference<ImageSection>(parent));
        return child;
    }

    private static readonly ConditionalWeakTable<ImageSection, WeakReference<ImageSection>> Parents = new();

    /// <summary>The section <paramref name="child"/> was derived from by a splice that checked the
    /// sizes and order of the rows it added (the rest are the parent's rows in the parent's order),
    /// while that section is still alive; else null.</summary>
    public static ImageSection? DerivedFrom(ImageSection child) =>
        Parents.TryGetValue(child, out var w) && w.TryGetTarget(out var p) ? p : null;
}

/// <summary>What the names section maps an id to.</summary>
public enum NameKind : uint { Workload = 1, Policy = 2, Service = 3, Backend = 4, Identity = 5, Namespace = 6 }

/// <summary>A node's image: header (magic, format version, ABI hash, content hash), the node name,
/// one section per map, and the names that make the text rendering readable. The format is described
/// in docs/image.md; every integer of the file is little-endian.</summary>
public sealed record ImageFile(
    string Node,
    string AbiHash,
    ImmutableArray<ImageSection> Sections,
    IReadOnlyDictionary<(NameKind Kind, uint Id), string> Names)
{
    public static ReadOnlySpan<byte> Magic => "KMSHIMG\0"u8;
    public const uint FormatVersion = 2;
    public const int HeaderSize = 80;
    public const string NamesSection = "names";

    public ImageSection? Section(string name) => Sections.FirstOrDefault(s => s.Name == name);

    public string? Name(NameKind kind, uint id) => Names.TryGetValue((kind, id), out var n) ? n : null;

    /// <summary>The file bytes, with the content hash of <see cref="ContentHash"/> in the header.</summary>
    public byte[] ToBytes()
    {
        var head = Head();
        var names = EncodeNames();
        long size = HeaderSize + head.Length + names.Length;
        foreach (var s in Sections) size += SectionSize(s);
        var file = new byte[size];
        int at = HeaderSize;
        head.CopyTo(file, at);
        at += head.Length;
        foreach (var s in Sections) at += Encode(s, file.AsSpan(at));
        names.CopyTo(file, at);
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), FormatVersion);
        Convert.FromHexString(AbiHash).CopyTo(file, 16);
        Convert.FromHexString(ContentHash(head, names)).CopyTo(file, 48);
        return file;
    }

    /// <summary>The content hash (docs/image.md): the SHA-256 of the SHA-256 of each part of the body
    /// in order (the node name and section count, each table section by its header and row
    /// fingerprint, the names section). A section's digest is computed once per section object and
    /// its fingerprint follows from the table it was derived from (<see cref="RowSums.Derive"/>), so
    /// the next image of an incremental compile is hashed by the rows that changed.</summary>
    public string ContentHash() => ContentHash(Head(), EncodeNames());

    private string ContentHash(byte[] head, byte[] names)
    {
        using var outer = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        outer.AppendData(SHA256.HashData(head));
        foreach (var s in Sections) outer.AppendData(Digests.GetValue(s, Digest));
        outer.AppendData(SHA256.HashData(names));
        return Convert.ToHexStringLower(outer.GetHashAndReset());
    }

    /// <summary>The content hash of a file's body (everything after the header), as
    /// <see cref="ContentHash()"/> gives it for the image the body encodes. A body whose parts cannot
    /// be told apart (cut short, sizes out of range) hashes its rest as one part: it fails the
    /// comparison with the header all the same.</summary>
    public static string ContentHashOfBody(ReadOnlySpan<byte> body)
    {
        using var outer = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int at = 0;
        bool ok = TryString(body, ref at) && at + 4 <= body.Length;
        if (!ok) { outer.AppendData(SHA256.HashData(body)); return Convert.ToHexStringLower(outer.GetHashAndReset()); }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        outer.AppendData(SHA256.HashData(body[..at]));
        for (uint i = 0; count > 0 && i < count - 1; i++)
        {
            int start = at;
            if (!TryString(body, ref at) || at + 24 > body.Length) break;
            long rows = BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 20)..]);
            long unit = (long)BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 4)..]) + BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 8)..]);
            // Both factors are below 2^33: their product cannot overflow once each is within the body.
            if (rows > body.Length || unit > body.Length || at + 24 + rows * unit > body.Length) { at = start; break; }
            long size = rows * unit;
            int keySize = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 4)..]);
            int rowsAt = at + 24;
            UInt128 sum = 0;
            for (long r = 0; r < rows; r++)
            {
                int k = rowsAt + (int)(r * unit);
                sum += RowSums.Row(body.Slice(k, keySize), body.Slice(k + keySize, (int)unit - keySize));
            }
            at += 24 + (int)size;
            var part = new byte[rowsAt - start + 16];
            body[start..rowsAt].CopyTo(part);
            BinaryPrimitives.WriteUInt128LittleEndian(part.AsSpan(rowsAt - start), sum);
            outer.AppendData(SHA256.HashData(part));
        }
        outer.AppendData(SHA256.HashData(body[at..]));
        return Convert.ToHexStringLower(outer.GetHashAndReset());
    }

    private static bool TryString(ReadOnlySpan<byte> body, ref int at)
    {
        if (at + 4 > body.Length) return false;
        long n = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        if (at + 4 + n > body.Length) return false;
        at += 4 + (int)n;
        return true;
    }

    /// <summary>Each section's part digest: SHA-256 of its header bytes (name through entry count)
    /// followed by its row fingerprint (<see cref="RowSums"/>, 16 bytes little-endian).</summary>
    private static readonly ConditionalWeakTable<ImageSection, byte[]> Digests = new();

    private static byte[] Digest(ImageSection s)
    {
        var buffer = new byte[SectionHeaderSize(s) + 16];
        int at = WriteHeader(s, buffer);
        BinaryPrimitives.WriteUInt128LittleEndian(buffer.AsSpan(at), RowSums.Of(s));
        return SHA256.HashData(buffer);
    }

    /// <summary>A section's header: name, type, key size, value size, max entries, flags, entry count.</summary>
    private static int SectionHeaderSize(ImageSection s) => StringSize(s.Name) + 6 * 4;

    private static int WriteHeader(ImageSection s, Span<byte> into)
    {
        int n = Encoding.UTF8.GetBytes(s.Name, into[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(into, (uint)n);
        int at = 4 + n;
        foreach (uint v in (ReadOnlySpan<uint>)[(uint)s.Type, (uint)s.KeySize, (uint)s.ValueSize, s.MaxEntries, s.Flags, (uint)s.Entries.Length])
        {
            BinaryPrimitives.WriteUInt32LittleEndian(into[at..], v);
            at += 4;
        }
        return at;
    }

    private byte[] Head()
    {
        var head = new byte[StringSize(Node) + 4];
        var w = new Writer(head, 0);
        w.String(Node);
        w.U32((uint)Sections.Length + 1);
        return head;
    }

    private static long SectionSize(ImageSection s)
    {
        long size = SectionHeaderSize(s);
        foreach (var e in s.Entries) size += e.Key.Length + e.Value.Length;
        return size;
    }

    private static int Encode(ImageSection s, Span<byte> into)
    {
        int at = WriteHeader(s, into);
        foreach (var e in s.Entries)
        {
            e.Key.CopyTo(into[at..]);
            at += e.Key.Length;
            e.Value.CopyTo(into[at..]);
            at += e.Value.Length;
        }
        return at;
    }

    private byte[] EncodeNames()
    {
        var names = Names.Keys.Select(k => ((ulong)k.Kind << 32) | k.Id).ToArray();
        Array.Sort(names);
        long size = StringSize(NamesSection) + 6 * 4;
        foreach (var key in names) size += 8 + StringSize(Names[((NameKind)(key >> 32), (uint)key)]);
        var buffer = new byte[size];
        var w = new Writer(buffer, 0);
        w.String(NamesSection);
        w.U32(0);
        w.U32(8);
        w.U32(0);
        w.U32(0);
        w.U32(0);
        w.U32((uint)Names.Count);
        foreach (var key in names)
        {
            var (kind, id) = ((NameKind)(key >> 32), (uint)key);
            w.U32((uint)kind);
            w.U32(id);
            w.String(Names[(kind, id)]);
        }
        if (w.Position != buffer.Length) throw new InvalidOperationException($"names: size {w.Position} differs from the computed {buffer.Length}");
        return buffer;
    }

    private static int StringSize(string s) => 4 + Encoding.UTF8.GetByteCount(s);

    private struct Writer(byte[] buffer, int position)
    {
        public int Position = position;

        public void U32(uint v)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(Position), v);
            Position += 4;
        }

        public void Bytes(ReadOnlySpan<byte> b)
        {
            b.CopyTo(buffer.AsSpan(Position));
            Position += b.Length;
        }

        public void String(string s)
        {
            int n = Encoding.UTF8.GetBytes(s, buffer.AsSpan(Position + 4));
            U32((uint)n);
            Position += n;
        }
    }

    public static string ContentHashOf(ReadOnlySpan<byte> file) => Convert.ToHexStringLower(file.Slice(48, 32));

    /// <summary>The part of the image the kernel does not read, as the loader keeps it beside a
    /// generation (km_names): the node name, then a u32 count and each name as u32 kind, u32 id and a
    /// string, sorted by (kind, id).</summary>
    public byte[] NamesBlob()
    {
        var keys = new ulong[Names.Count];
        var values = new string[Names.Count];
        int n = 0;
        long size = StringSize(Node) + 4;
        foreach (var (k, v) in Names)
        {
            keys[n] = ((ulong)k.Kind << 32) | k.Id;
            values[n++] = v;
            size += 12 + Encoding.UTF8.GetByteCount(v);
        }
        Array.Sort(keys, values);
        var blob = new byte[size];
        var w = new Writer(blob, 0);
        w.String(Node);
        w.U32((uint)n);
        for (int i = 0; i < n; i++)
        {
            w.U32((uint)(keys[i] >> 32));
            w.U32((uint)keys[i]);
            w.String(values[i]);
        }
        return blob;
    }

    /// <summary>Reads a <see cref="NamesBlob"/> back; null when it is malformed (every length is
    /// checked against what remains).</summary>
    public static (string Node, Dictionary<(NameKind Kind, uint Id), string> Names)? ReadNamesBlob(ReadOnlySpan<byte> blob)
    {
        int pos = 0;
        bool U32(ReadOnlySpan<byte> b, out uint v)
        {
            v = 0;
            if (b.Length - pos < 4) return false;
            v = BinaryPrimitives.ReadUInt32LittleEndian(b[pos..]);
            pos += 4;
            return true;
        }
        string? Str(ReadOnlySpan<byte> b)
        {
            if (!U32(b, out uint n) || n > (uint)(b.Length - pos)) return null;
            string s;
            try { s = new UTF8Encoding(false, true).GetString(b.Slice(pos, (int)n)); }
            catch (DecoderFallbackException) { return null; }
            pos += (int)n;
            return s;
        }
        var node = Str(blob);
        if (node is null || !U32(blob, out uint count) || count > (uint)(blob.Length - pos) / 12) return null;
        var names = new Dictionary<(NameKind, uint), string>((int)count);
        for (uint i = 0; i < count; i++)
        {
            if (!U32(blob, out uint kind) || !U32(blob, out uint id) || Str(blob) is not { } name) return null;
            if (!names.TryAdd(((NameKind)kind, id), name)) return null;
        }
        return pos == blob.Length ? (node, names) : null;
    }
}

/// <summary>Orders byte arrays lexicographically (shorter first on a common prefix).</summary>
public sealed class ByteOrder : IComparer<byte[]>
{
    public static readonly ByteOrder Instance = new();

    public int Compare(byte[]? x, byte[]? y) => x is null || y is null
        ? (x is null ? (y is null ? 0 : -1) : 1)
        : x.AsSpan().SequenceCompareTo(y);
}
