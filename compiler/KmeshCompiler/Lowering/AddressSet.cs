using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>A set of addresses as the fewest prefixes that cover exactly the same addresses: host
/// bits cleared, prefixes inside another removed, sibling prefixes merged into their parent until no
/// two can be. IPv4 prefixes sort before IPv6 ones, each family by address. Two sets are equal exactly
/// when they contain the same addresses, which is what hash-consing keys on.</summary>
public sealed class AddressSet : IEquatable<AddressSet>
{
    public IReadOnlyList<IpPrefix> Prefixes { get; }
    private readonly int _hash;

    private AddressSet(List<IpPrefix> prefixes)
    {
        Prefixes = prefixes;
        var h = new HashCode();
        foreach (var p in prefixes) { h.Add(p.Address.Value); h.Add(p.Address.IsV6); h.Add(p.Length); }
        _hash = h.ToHashCode();
    }

    public bool IsEmpty => Prefixes.Count == 0;

    public bool Contains(IpAddr a) => Prefixes.Any(p => p.Contains(a));

    public static AddressSet Of(IEnumerable<IpPrefix> prefixes)
    {
        var v4 = new List<(UInt128 Net, int Len)>();
        var v6 = new List<(UInt128 Net, int Len)>();
        foreach (var p in prefixes) (p.Address.IsV6 ? v6 : v4).Add((p.Network.Value, p.Length));
        var result = new List<IpPrefix>();
        Minimise(v4, 32, false, result);
        Minimise(v6, 128, true, result);
        return new AddressSet(result);
    }

    public static AddressSet Hosts(IEnumerable<IpAddr> addresses) => Of(addresses.Select(IpPrefix.Host));

    private static void Minimise(List<(UInt128 Net, int Len)> items, int bits, bool v6, List<IpPrefix> output)
    {
        if (items.Count == 0) return;
        items.Sort(); // by network, then length (the tuple's own order: no comparison delegate)
        var stack = new List<(UInt128 Net, int Len)>(items.Count);
        UInt128 lastEnd = 0;
        bool any = false;
        foreach (var it in items)
        {
            // Sorted by start then length: a prefix starting inside the previous kept one is inside it.
            if (any && it.Net <= lastEnd) continue;
            any = true;
            lastEnd = it.Net | HostMask(it.Len, bits);
            stack.Add(it);
            while (stack.Count >= 2)
            {
                var b = stack[^1];
                var a = stack[^2];
                if (a.Len != b.Len || a.Len == 0) break;
                UInt128 bit = UInt128.One << (bits - a.Len);
                if ((a.Net & bit) != 0 || (a.Net | bit) != b.Net) break;
                stack.RemoveAt(stack.Count - 1);
                stack[^1] = (a.Net, a.Len - 1);
            }
        }
        foreach (var (net, len) in stack) output.Add(new IpPrefix(new IpAddr(net, v6), len));
    }

    private static UInt128 HostMask(int len, int bits) =>
        len >= bits ? UInt128.Zero
        : len == 0 ? (bits == 128 ? UInt128.MaxValue : uint.MaxValue)
        : (UInt128.One << (bits - len)) - 1;

    public bool Equals(AddressSet? other)
    {
        if (ReferenceEquals(this, other)) return true; // identity sets are cached and requested again
        if (other is null || other._hash != _hash || other.Prefixes.Count != Prefixes.Count) return false;
        for (int i = 0; i < Prefixes.Count; i++)
            if (Prefixes[i] != other.Prefixes[i]) return false;
        return true;
    }

    public override bool Equals(object? obj) => obj is AddressSet s && Equals(s);

    public override int GetHashCode() => _hash;

    public override string ToString() => string.Join(", ", Prefixes);
}
