using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

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
            for (int i = 0; i < arr.Length; i++) idx[i] = BinaryPrimitives.ReadUInt32LittleEndian(arr[i].Key);
            Array.Sort(idx, arr);
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
        return new(spec.Name, spec.Type, spec.KeySize, spec.ValueSize, spec.MaxEntries, spec.Flags, ImmutableArray.Create(arr));
    }
}

public readonly record struct ImageEntry(byte[] Key, byte[] Value);

/// <summary>What the names section maps an id to.</summary>
public enum NameKind : uint { Workload = 1, Policy = 2, Service = 3, Backend = 4 }

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
    public const uint FormatVersion = 1;
    public const int HeaderSize = 80;
    public const string NamesSection = "names";

    public ImageSection? Section(string name) => Sections.FirstOrDefault(s => s.Name == name);

    public string? Name(NameKind kind, uint id) => Names.TryGetValue((kind, id), out var n) ? n : null;

    /// <summary>The file bytes. The content hash is the SHA-256 of everything after the header.</summary>
    public byte[] ToBytes()
    {
        var body = new MemoryStream();
        WriteString(body, Node);
        WriteU32(body, (uint)Sections.Length + 1);
        foreach (var s in Sections)
        {
            WriteString(body, s.Name);
            WriteU32(body, (uint)s.Type);
            WriteU32(body, (uint)s.KeySize);
            WriteU32(body, (uint)s.ValueSize);
            WriteU32(body, s.MaxEntries);
            WriteU32(body, s.Flags);
            WriteU32(body, (uint)s.Entries.Length);
            foreach (var e in s.Entries) { body.Write(e.Key); body.Write(e.Value); }
        }
        WriteString(body, NamesSection);
        WriteU32(body, 0);
        WriteU32(body, 8);
        WriteU32(body, 0);
        WriteU32(body, 0);
        WriteU32(body, 0);
        WriteU32(body, (uint)Names.Count);
        var keys = Names.Keys.Select(k => ((ulong)k.Kind << 32) | k.Id).ToArray();
        Array.Sort(keys);
        foreach (var key in keys)
        {
            var (kind, id) = ((NameKind)(key >> 32), (uint)key);
            string name = Names[(kind, id)];
            WriteU32(body, (uint)kind);
            WriteU32(body, id);
            WriteString(body, name);
        }
        var bodyBytes = body.ToArray();
        var file = new byte[HeaderSize + bodyBytes.Length];
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), FormatVersion);
        Convert.FromHexString(AbiHash).CopyTo(file, 16);
        SHA256.HashData(bodyBytes).CopyTo(file, 48);
        bodyBytes.CopyTo(file, HeaderSize);
        return file;
    }

    public static string ContentHashOf(ReadOnlySpan<byte> file) => Convert.ToHexStringLower(file.Slice(48, 32));

    private static void WriteU32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteString(Stream s, string v)
    {
        var b = Encoding.UTF8.GetBytes(v);
        WriteU32(s, (uint)b.Length);
        s.Write(b);
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
