using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>Reads an image file, checking in order: length, magic, format version, content hash,
/// structure, the table layout (ABI hash and the declared key/value sizes) and the rows' indices and
/// ranges (<see cref="ImageChecks"/>). Every failure is a
/// diagnostic that says which check failed; nothing here throws for a bad file.</summary>
public static class ImageReader
{
    /// <summary>Images larger than this are refused before hashing.</summary>
    public const long MaxImageBytes = 1L << 30;

    public static ImageFile? Read(string path, ReadOnlySpan<byte> data, DiagnosticBag bag)
    {
        var loc = new SourceLocation(path, 0, 0);
        if (data.Length < 8 || !data[..8].SequenceEqual(ImageFile.Magic))
        {
            if (data.Length < 8 && ImageFile.Magic[..data.Length].SequenceEqual(data))
                bag.Add(Codes.ImageTruncated, loc, path, $"{data.Length} bytes, shorter than the {ImageFile.HeaderSize}-byte header");
            else bag.Add(Codes.ImageBadMagic, loc, path);
            return null;
        }
        if (data.Length < ImageFile.HeaderSize)
        {
            bag.Add(Codes.ImageTruncated, loc, path, $"{data.Length} bytes, shorter than the {ImageFile.HeaderSize}-byte header");
            return null;
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        if (version > ImageFile.FormatVersion)
        {
            bag.Add(Codes.ImageFutureVersion, loc, path, version, ImageFile.FormatVersion);
            return null;
        }
        if (version == 0)
        {
            bag.Add(Codes.ImageCorrupt, loc, path, "format version 0 does not exist");
            return null;
        }
        if (version < ImageFile.FormatVersion)
        {
            bag.Add(Codes.ImageCorrupt, loc, path, $"format version {version} is older than the {ImageFile.FormatVersion} this kmeshc reads (its content hash is computed otherwise); compile the image again");
            return null;
        }
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        if (flags != 0)
        {
            bag.Add(Codes.ImageCorrupt, loc, path, $"header flags are 0x{flags:x8}; format {version} defines none (they must be 0)");
            return null;
        }
        string abi = Convert.ToHexStringLower(data.Slice(16, 32));
        var body = data[ImageFile.HeaderSize..];
        string declared = ImageFile.ContentHashOf(data);
        string actual = ImageFile.ContentHashOfBody(body);
        if (declared != actual)
        {
            // A file cut short is the common case: say so when the body does not parse either.
            var probe = new DiagnosticBag();
            if (Parse(path, body, abi, probe) is null && probe.Items.Any(d => d.Descriptor == Codes.ImageTruncated))
                bag.AddRange(probe.Items);
            else bag.Add(Codes.ImageHashMismatch, loc, path, declared[..16], actual[..16]);
            return null;
        }
        var image = Parse(path, body, abi, bag);
        if (image is null) return null;
        if (abi != Layout.AbiHash)
        {
            bag.Add(Codes.ImageAbiMismatch, loc, path, abi[..16], Layout.AbiHash[..16]);
            return null;
        }
        foreach (var s in image.Sections)
        {
            var spec = Layout.ImageMaps.FirstOrDefault(m => m.Name == s.Name);
            if (spec is null) { bag.Add(Codes.ImageCorrupt, loc, path, $"unknown table '{s.Name}'"); return null; }
            if (spec.Type != s.Type || spec.KeySize != s.KeySize || spec.ValueSize != s.ValueSize || spec.MaxEntries != s.MaxEntries || spec.Flags != s.Flags)
            {
                bag.Add(Codes.ImageCorrupt, loc, path, $"table '{s.Name}' is declared differently from bpf/kmesh_tables.h");
                return null;
            }
        }
        if (ImageChecks.Problem(image) is { } problem)
        {
            bag.Add(Codes.ImageCorrupt, loc, path, problem);
            return null;
        }
        return image;
    }

    private static ImageFile? Parse(string path, ReadOnlySpan<byte> body, string abi, DiagnosticBag bag)
    {
        var loc = new SourceLocation(path, 0, 0);
        var r = new Cursor(body);
        string? node = r.String();
        uint? count = r.U32();
        if (node is null || count is null) return Truncated(bag, loc, path, "in the node name");
        var sections = ImmutableArray.CreateBuilder<ImageSection>();
        var names = new Dictionary<(NameKind, uint), string>();
        bool sawNames = false;
        for (uint i = 0; i < count; i++)
        {
            string? name = r.String();
            uint? type = r.U32(), ks = r.U32(), vs = r.U32(), max = r.U32(), flags = r.U32(), n = r.U32();
            if (name is null || n is null) return Truncated(bag, loc, path, $"in the declaration of section {i}");
            if (name == ImageFile.NamesSection)
            {
                if (type != 0 || ks != 8 || vs != 0) { bag.Add(Codes.ImageCorrupt, loc, path, "the names section is malformed"); return null; }
                for (uint k = 0; k < n; k++)
                {
                    uint? kind = r.U32(), id = r.U32();
                    string? s = r.String();
                    if (s is null) return Truncated(bag, loc, path, "in the names section");
                    names[((NameKind)kind!.Value, id!.Value)] = s;
                }
                sawNames = true;
                continue;
            }
            if (ks is 0 or > 256 || vs is 0 or > 65536) { bag.Add(Codes.ImageCorrupt, loc, path, $"section '{name}' declares key size {ks} and value size {vs}"); return null; }
            long bytes = (long)n.Value * (ks!.Value + vs!.Value);
            if (bytes > r.Remaining) return Truncated(bag, loc, path, $"section '{name}' declares {n} entries but only {r.Remaining} bytes remain");
            var entries = ImmutableArray.CreateBuilder<ImageEntry>((int)n.Value);
            for (uint k = 0; k < n; k++) entries.Add(new ImageEntry(r.Bytes((int)ks.Value)!, r.Bytes((int)vs.Value)!));
            sections.Add(new ImageSection(name, (BpfMapType)type!.Value, (int)ks.Value, (int)vs.Value, max!.Value, flags!.Value, entries.MoveToImmutable()));
        }
        if (!sawNames) { bag.Add(Codes.ImageCorrupt, loc, path, "the names section is missing"); return null; }
        if (r.Remaining != 0) { bag.Add(Codes.ImageCorrupt, loc, path, $"{r.Remaining} bytes after the last section"); return null; }
        return new ImageFile(node, abi, sections.ToImmutable(), names);
    }

    private static ImageFile? Truncated(DiagnosticBag bag, SourceLocation loc, string path, string where)
    {
        bag.Add(Codes.ImageTruncated, loc, path, "the file ends " + where);
        return null;
    }

    private ref struct Cursor(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly int Remaining => _data.Length - _pos;

        public uint? U32()
        {
            if (Remaining < 4) { _pos = _data.Length; return null; }
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
            _pos += 4;
            return v;
        }

        public byte[]? Bytes(int n)
        {
            if (n < 0 || Remaining < n) { _pos = _data.Length; return null; }
            var b = _data.Slice(_pos, n).ToArray();
            _pos += n;
            return b;
        }

        public string? String()
        {
            uint? n = U32();
            if (n is null || n > 65536) return null;
            var b = Bytes((int)n.Value);
            return b is null ? null : Encoding.UTF8.GetString(b);
        }
    }
}
