using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace KmeshCompiler.Ir;

/// <summary>An IPv4 or IPv6 address as a 128-bit value. IPv4 addresses occupy the low 32 bits and are
/// never equal to their IPv4-mapped IPv6 form (semantics.md §2: an IPv4 prefix never contains an
/// IPv6 address). Parsing follows Go's netip rules, not .NET's lenient parser.</summary>
public readonly record struct IpAddr(UInt128 Value, bool IsV6) : IComparable<IpAddr>
{
    public int Bits => IsV6 ? 128 : 32;

    public static IpAddr V4(uint v) => new(v, false);

    public static IpAddr FromBytes(ReadOnlySpan<byte> b) => b.Length switch
    {
        4 => new IpAddr(BinaryPrimitives.ReadUInt32BigEndian(b), false),
        16 => new IpAddr(BinaryPrimitives.ReadUInt128BigEndian(b), true),
        _ => throw new ArgumentException($"an address has 4 or 16 bytes, not {b.Length}"),
    };

    public byte[] ToBytes()
    {
        if (!IsV6)
        {
            var b4 = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b4, (uint)Value);
            return b4;
        }
        var b = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, Value);
        return b;
    }

    public int CompareTo(IpAddr other) =>
        IsV6 != other.IsV6 ? (IsV6 ? 1 : -1) : Value.CompareTo(other.Value);

    public override string ToString() =>
        IsV6 ? new IPAddress(ToBytes()).ToString()
             : string.Join('.', ToBytes().Select(x => x.ToString(CultureInfo.InvariantCulture)));

    public static IpAddr Parse(string s) =>
        TryParse(s, out var a, out var err) ? a : throw new FormatException(err);

    /// <summary>Strict parse: four decimal octets without leading zeros for IPv4; IPv6 per RFC 4291
    /// text forms (with an optional embedded dotted quad), no zone.</summary>
    public static bool TryParse(string s, out IpAddr addr, out string error)
    {
        addr = default;
        error = "";
        if (s.Length == 0) { error = "empty address"; return false; }
        if (s.Contains(':')) return TryParseV6(s, out addr, out error);
        if (TryParseV4(s, out var v, out error)) { addr = V4(v); return true; }
        return false;
    }

    private static bool TryParseV4(ReadOnlySpan<char> s, out uint value, out string error)
    {
        value = 0;
        error = "";
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int v = 0;
            while (i < s.Length && s[i] >= '0' && s[i] <= '9')
            {
                v = v * 10 + (s[i] - '0');
                i++;
                if (i - start > 3 || v > 255) { error = $"IPv4 octet out of range in '{s}'"; return false; }
            }
            if (i == start) { error = $"'{s}' is not an IP address"; return false; }
            if (i - start > 1 && s[start] == '0') { error = $"IPv4 octet with a leading zero in '{s}' (ambiguous: octal or decimal)"; return false; }
            value = (value << 8) | (uint)v;
            octets++;
            if (i == s.Length) break;
            if (s[i] != '.' || octets == 4) { error = $"'{s}' is not an IP address"; return false; }
            i++;
        }
        if (octets != 4) { error = $"IPv4 address '{s}' needs four octets"; return false; }
        return true;
    }

    private static bool TryParseV6(string s, out IpAddr addr, out string error)
    {
        addr = default;
        error = $"'{s}' is not an IPv6 address";
        if (s.Contains('%')) { error = $"'{s}': zones are not allowed"; return false; }
        var groups = new List<ushort>(8);
        int ellipsis = -1;
        int i = 0;
        if (s.StartsWith("::", StringComparison.Ordinal)) { ellipsis = 0; i = 2; if (i == s.Length) { addr = new IpAddr(0, true); return true; } }
        else if (s[0] == ':') return false;
        while (i < s.Length)
        {
            // Embedded IPv4 in the last 32 bits.
            int nextColon = s.IndexOf(':', i);
            string part = nextColon < 0 ? s[i..] : s[i..nextColon];
            if (nextColon < 0 && part.Contains('.'))
            {
                if (!TryParseV4(part, out var v4, out var e4)) { error = e4; return false; }
                groups.Add((ushort)(v4 >> 16));
                groups.Add((ushort)v4);
                i = s.Length;
                break;
            }
            if (part.Length is 0 or > 4) return false;
            ushort g = 0;
            foreach (var c in part)
            {
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0) return false;
                g = (ushort)(g * 16 + d);
            }
            groups.Add(g);
            if (nextColon < 0) { i = s.Length; break; }
            i = nextColon + 1;
            if (i < s.Length && s[i] == ':')
            {
                if (ellipsis >= 0) return false;
                ellipsis = groups.Count;
                i++;
                if (i == s.Length) break;
            }
            else if (i == s.Length) return false;
        }
        if (groups.Count > 8 || (ellipsis >= 0 && groups.Count > 7) || (ellipsis < 0 && groups.Count != 8)) return false;
        UInt128 v = 0;
        int fill = 8 - groups.Count;
        for (int k = 0, gi = 0; k < 8; k++)
        {
            ushort g;
            if (ellipsis >= 0 && k >= ellipsis && k < ellipsis + fill) g = 0;
            else g = groups[gi++];
            v = (v << 16) | g;
        }
        addr = new IpAddr(v, true);
        return true;
    }
}

/// <summary>A CIDR as written: the address keeps its host bits (istiod does not mask them) but
/// <see cref="Contains"/> compares only the first <see cref="Length"/> bits.</summary>
public readonly record struct IpPrefix(IpAddr Address, int Length) : IComparable<IpPrefix>
{
    public static IpPrefix Host(IpAddr a) => new(a, a.Bits);

    public UInt128 Mask => Length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - Length) >> (Address.IsV6 ? 0 : 96);

    public IpAddr Network => new(Address.Value & Mask, Address.IsV6);

    public bool Contains(IpAddr a) => a.IsV6 == Address.IsV6 && (a.Value & Mask) == (Address.Value & Mask);

    public int CompareTo(IpPrefix other)
    {
        int c = Address.CompareTo(other.Address);
        return c != 0 ? c : Length.CompareTo(other.Length);
    }

    public override string ToString() => $"{Address}/{Length.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>"a.b.c.d", "a.b.c.d/n", "v6", "v6/n" with the strict rules of semantics.md §2.</summary>
    public static bool TryParse(string s, out IpPrefix prefix, out string error)
    {
        prefix = default;
        int slash = s.IndexOf('/');
        string addrPart = slash < 0 ? s : s[..slash];
        if (!IpAddr.TryParse(addrPart, out var addr, out error)) return false;
        if (slash < 0) { prefix = Host(addr); return true; }
        string lenPart = s[(slash + 1)..];
        if (lenPart.Length == 0 || lenPart.Length > 3 || !lenPart.All(char.IsAsciiDigit) || (lenPart.Length > 1 && lenPart[0] == '0'))
        {
            error = $"'{s}': the prefix length must be a decimal number";
            return false;
        }
        int len = int.Parse(lenPart, CultureInfo.InvariantCulture);
        if (len > addr.Bits)
        {
            error = $"'{s}': prefix /{len} is longer than an {(addr.IsV6 ? "IPv6" : "IPv4")} address ({addr.Bits} bits)";
            return false;
        }
        prefix = new IpPrefix(addr, len);
        return true;
    }

    public static IpPrefix Parse(string s) => TryParse(s, out var p, out var e) ? p : throw new FormatException(e);
}
