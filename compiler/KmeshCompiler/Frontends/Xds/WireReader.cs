using System.Text;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>Malformed protobuf met by <see cref="WireReader"/>; caught by the snapshot reader and
/// reported as a diagnostic, never shown to a user as an exception.</summary>
internal sealed class WireException(string message) : Exception(message);

/// <summary>A forward-only protobuf wire reader over a span, with Google.Protobuf's acceptance rules
/// (varints of up to ten bytes, 32-bit fields keep the low bits, lengths checked against what
/// remains before anything is sliced, groups skipped with a depth limit). It allocates nothing but
/// the strings it is asked for.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    private const int MaxGroupDepth = 100;
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public readonly bool More => _pos < _data.Length;

    /// <summary>Offset of the next byte to read, from the start of the span.</summary>
    public readonly int Position => _pos;

    public bool Next(out int field, out int wire)
    {
        field = 0;
        wire = 0;
        if (_pos >= _data.Length) return false;
        uint tag = (uint)Varint();
        field = (int)(tag >> 3);
        wire = (int)(tag & 7);
        if (field == 0) throw new WireException("a field number of 0 (invalid tag)");
        return true;
    }

    public ulong Varint()
    {
        ulong v = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw new WireException("the input ends inside a varint (truncated)");
            byte b = _data[_pos++];
            if (shift < 64) v |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        throw new WireException("a varint longer than ten bytes");
    }

    public uint UInt32() => (uint)Varint();

    public int Enum() => (int)(uint)Varint();

    public bool Bool() => Varint() != 0;

    public ReadOnlySpan<byte> Bytes()
    {
        int len = (int)(uint)Varint();
        if (len < 0) throw new WireException("a negative length");
        if (len > _data.Length - _pos) throw new WireException($"a length of {len} bytes where only {_data.Length - _pos} remain (truncated)");
        var s = _data.Slice(_pos, len);
        _pos += len;
        return s;
    }

    public string String() => Encoding.UTF8.GetString(Bytes());

    public string String(StringPool pool) => pool.Get(Bytes());

    /// <summary>Skips the value of a field this reader does not keep.</summary>
    public void Skip(int field, int wire, int depth = 0)
    {
        switch (wire)
        {
            case 0: Varint(); break;
            case 1: Advance(8); break;
            case 5: Advance(4); break;
            case 2: Bytes(); break;
            case 3:
                if (depth >= MaxGroupDepth) throw new WireException("groups nested too deeply");
                while (true)
                {
                    if (!Next(out int f, out int w)) throw new WireException("the input ends inside a group (truncated)");
                    if (w == 4)
                    {
                        if (f != field) throw new WireException("a group ends with the wrong field number");
                        return;
                    }
                    Skip(f, w, depth + 1);
                }
            case 4: throw new WireException("an end-group tag without its start-group");
            default: throw new WireException($"invalid wire type {wire}");
        }
    }

    private void Advance(int n)
    {
        if (_data.Length - _pos < n) throw new WireException("the input ends inside a fixed-size field (truncated)");
        _pos += n;
    }

    /// <summary>Reads a repeated uint32 field in either encoding: packed (wire type 2) or one value
    /// per tag (wire type 0); any other wire type is an unknown field, as for Google.Protobuf.</summary>
    public void UInt32s(int field, int wire, List<uint> into)
    {
        if (wire == 0) { into.Add(UInt32()); return; }
        if (wire != 2) { Skip(field, wire); return; }
        var inner = new WireReader(Bytes());
        while (inner.More) into.Add(inner.UInt32());
    }

    /// <summary>Walks a message this reader does not keep but Google.Protobuf parses, so that the same
    /// input is rejected by both. <paramref name="schema"/> names the fields that are themselves
    /// messages; everything else is skipped by wire type.</summary>
    public static void Validate(ReadOnlySpan<byte> message, Schema schema, int depth = 0)
    {
        if (depth > MaxGroupDepth) throw new WireException("messages nested too deeply");
        var r = new WireReader(message);
        while (r.Next(out int f, out int w))
        {
            if (w == 2 && schema.Child(f) is { } child) Validate(r.Bytes(), child, depth + 1);
            else r.Skip(f, w);
        }
    }
}

/// <summary>Which fields of a message are messages (for <see cref="WireReader.Validate"/>).</summary>
internal sealed class Schema(params (int Field, Func<Schema> Child)[] children)
{
    public Schema? Child(int field)
    {
        foreach (var (f, c) in children) if (f == field) return c();
        return null;
    }

    public static readonly Schema Scalars = new();
    public static readonly Schema Any = Scalars; // type_url, value: both opaque
    public static readonly Schema NamespacedHostname = Scalars;
    public static readonly Schema NetworkAddress = Scalars;
    public static readonly Schema GatewayAddress = new((1, () => NamespacedHostname), (2, () => NetworkAddress));
    public static readonly Schema Extension = new((2, () => Any));
    public static readonly Schema WeightedWaypoint = new((1, () => GatewayAddress));
}

/// <summary>Shares the strings a snapshot repeats (namespaces, nodes, trust domains, service keys,
/// policy names) so that a large world holds each once: fewer allocations while reading, less
/// memory after. Unique strings (uids, names) are not pooled.</summary>
internal sealed class StringPool
{
    private const int MaxPooledBytes = 128;
    private const int MaxEntries = 1 << 20;
    private readonly Dictionary<string, string> _set = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public StringPool() => _lookup = _set.GetAlternateLookup<ReadOnlySpan<char>>();

    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "";
        if (utf8.Length > MaxPooledBytes || _set.Count >= MaxEntries) return Encoding.UTF8.GetString(utf8);
        Span<char> buf = stackalloc char[MaxPooledBytes];
        var chars = buf[..Encoding.UTF8.GetChars(utf8, buf)];
        if (_lookup.TryGetValue(chars, out var s)) return s;
        s = new string(chars);
        _set[s] = s;
        return s;
    }
}
