using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests;

public class IpParsingTests
{
    [Theory]
    [InlineData("10.0.0.1", true)]
    [InlineData("010.0.0.1", false)]
    [InlineData("10.0.1", false)]
    [InlineData("256.0.0.1", false)]
    [InlineData("1.2.3.4.5", false)]
    [InlineData("::", true)]
    [InlineData("::1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("2001:db8:::1", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("1:2:3:4:5:6:7:8:9", false)]
    [InlineData("", false)]
    public void Addresses_follow_go_netip(string text, bool ok) => Assert.Equal(ok, IpAddr.TryParse(text, out _, out _));

    [Theory]
    [InlineData("10.0.0.1/24", "10.0.0.200", true)]
    [InlineData("10.0.0.1/24", "10.0.1.1", false)]
    [InlineData("0.0.0.0/0", "1.2.3.4", true)]
    [InlineData("0.0.0.0/0", "::1", false)]
    [InlineData("::/0", "10.0.0.1", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.0.0.1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    public void Prefix_contains(string prefix, string addr, bool expected) =>
        Assert.Equal(expected, IpPrefix.Parse(prefix).Contains(IpAddr.Parse(addr)));

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/08")]
    [InlineData("10.0.0.0/-1")]
    public void Bad_prefixes_are_rejected(string text) => Assert.False(IpPrefix.TryParse(text, out _, out _));

    [Fact]
    public void Unmasked_prefix_keeps_its_bytes()
    {
        var p = IpPrefix.Parse("10.0.0.1/24");
        Assert.Equal("10.0.0.1/24", p.ToString());
        Assert.Equal("10.0.0.0", p.Network.ToString());
    }

    [Fact]
    public void Ipv6_prints_canonically() => Assert.Equal("2001:db8::1", IpAddr.Parse("2001:0db8:0:0:0:0:0:1").ToString());
}
