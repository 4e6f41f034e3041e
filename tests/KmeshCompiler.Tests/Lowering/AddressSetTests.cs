using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Lowering;

public class AddressSetTests
{
    private static string Of(params string[] prefixes) => AddressSet.Of(prefixes.Select(IpPrefix.Parse)).ToString();

    [Fact]
    public void SiblingsMergeIntoTheirParent() =>
        Assert.Equal("10.0.0.0/23", Of("10.0.0.0/24", "10.0.1.0/24"));

    [Fact]
    public void MergingCascades() =>
        Assert.Equal("10.0.0.0/22", Of("10.0.3.0/24", "10.0.0.0/24", "10.0.2.0/24", "10.0.1.0/24"));

    [Fact]
    public void NonSiblingNeighboursStaySeparate() =>
        Assert.Equal("10.0.1.0/24, 10.0.2.0/24", Of("10.0.1.0/24", "10.0.2.0/24"));

    [Fact]
    public void ContainedPrefixesAndHostBitsDisappear() =>
        Assert.Equal("10.0.0.0/8", Of("10.1.2.3/16", "10.9.9.9/8", "10.200.0.1"));

    [Fact]
    public void FamiliesNeverMerge()
    {
        Assert.Equal("0.0.0.0/0, ::/0", Of("::/0", "0.0.0.0/0", "::ffff:10.0.0.1"));
        var s = AddressSet.Of([IpPrefix.Parse("0.0.0.0/0")]);
        Assert.False(s.Contains(IpAddr.Parse("::ffff:10.0.0.1")));
        Assert.True(s.Contains(IpAddr.Parse("10.0.0.1")));
    }

    [Fact]
    public void HalvesOfTheWholeSpaceMerge()
    {
        Assert.Equal("0.0.0.0/0", Of("0.0.0.0/1", "128.0.0.0/1"));
        Assert.Equal("::/0", Of("::/1", "8000::/1"));
    }

    [Fact]
    public void EqualSetsAreEqualHowEverWritten()
    {
        var a = AddressSet.Of(new[] { "10.0.0.0/25", "10.0.0.128/25" }.Select(IpPrefix.Parse));
        var b = AddressSet.Of(new[] { "10.0.0.77/24" }.Select(IpPrefix.Parse));
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void MinimisedSetContainsExactlyTheSameAddresses()
    {
        var rng = new Random(5);
        for (int round = 0; round < 300; round++)
        {
            bool v6 = rng.Next(2) == 0;
            int bits = v6 ? 128 : 32;
            UInt128 Base() => v6 ? ((UInt128)0xfd00UL << 112) | (UInt128)(uint)rng.Next(0, 64) : 0x0A000000u | (uint)rng.Next(0, 64);
            var input = Enumerable.Range(0, rng.Next(1, 40))
                .Select(_ => new IpPrefix(new IpAddr(Base(), v6), rng.Next(bits - 7, bits + 1)))
                .ToList();
            var set = AddressSet.Of(input);
            for (uint probe = 0; probe < 96; probe++)
            {
                var a = new IpAddr(v6 ? ((UInt128)0xfd00UL << 112) | probe : 0x0A000000u | probe, v6);
                Assert.Equal(input.Any(p => p.Contains(a)), set.Contains(a));
            }
            // Minimal: no prefix inside another, no two siblings left.
            var ps = set.Prefixes;
            for (int i = 0; i < ps.Count; i++)
                for (int j = 0; j < ps.Count; j++)
                {
                    if (i == j) continue;
                    Assert.False(ps[i].Length <= ps[j].Length && ps[i].Contains(ps[j].Address), $"{ps[i]} contains {ps[j]}");
                    Assert.False(ps[i].Length == ps[j].Length && ps[i].Length > 0 && new IpPrefix(ps[i].Address, ps[i].Length - 1).Contains(ps[j].Address), $"{ps[i]} and {ps[j]} are siblings");
                }
        }
    }
}
