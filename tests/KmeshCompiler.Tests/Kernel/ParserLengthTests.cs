using System.Buffers.Binary;
using System.Net;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>How the XDP parser steps over headers whose length it must compute: IPv6 Hop-by-Hop,
/// Routing and Destination Options of several lengths ((len + 1) * 8 bytes), AH ((len + 2) * 4
/// bytes), lengths that point past the packet (which must drop), and an IPv4 first fragment with
/// More Fragments set (offset 0: it carries the TCP header, so it is judged). A parser that took
/// every extension header for 8 bytes, AH for (len + 1) * 8, or the MF bit for an offset fails here:
/// the SYN would not be judged.</summary>
public sealed class ParserLengthTests : IDisposable
{
    private static readonly IPAddress Local4 = IPAddress.Parse("10.0.0.10"), Local6 = IPAddress.Parse("fd00::10");
    private static readonly IPAddress Client4 = IPAddress.Parse("10.0.1.5"), Client6 = IPAddress.Parse("fd00:1::5");
    private const byte Ah = 51;
    private readonly Lazy<DataPlane> _prog = new(() => DataPlane.Load());

    private DataPlane Prog => _prog.Value;

    public void Dispose()
    {
        if (_prog.IsValueCreated) _prog.Value.Dispose();
    }

    /// <summary>Every SYN to the local workload is allowed by a policy: judged SYNs count AllowPolicy.</summary>
    private void AllowAll(uint action = Layout.ActionAllow)
    {
        var t = new HandTables();
        uint eval = t.Eval(action == Layout.ActionAllow, t.Policy(action, false, t.Rule()));
        t.Workload(Local4, 0, eval);
        t.Workload(Local6, 0, eval);
        Prog.Fill(t.Contents());
    }

    /// <summary>One extension header: type and the length byte; the header's size follows from them
    /// as the RFCs say, filled with a PadN option (or an AH body) whose bytes would be misread as a
    /// next header that is not TCP.</summary>
    private static byte[] Header(byte type, byte lengthByte, byte next)
    {
        int size = type == Ah ? (lengthByte + 2) * 4 : (lengthByte + 1) * 8;
        var h = new byte[size];
        h[0] = next;
        h[1] = lengthByte;
        if (type == Ah) for (int i = 2; i < size; i++) h[i] = 0x11; // SPI, sequence, ICV: 17 = UDP when misread
        else if (size > 2) { h[2] = 1; h[3] = (byte)(size - 4); for (int i = 4; i < size; i++) h[i] = 0x11; }
        return h;
    }

    /// <summary>A SYN to <paramref name="dst"/> behind the given chain of (type, length byte).</summary>
    private static byte[] Syn6(IPAddress dst, params (byte Type, byte Length)[] chain)
    {
        var plain = Packets.Syn(Client6, dst, 80, 0x0411);
        var ext = new List<byte>();
        for (int i = 0; i < chain.Length; i++)
            ext.AddRange(Header(chain[i].Type, chain[i].Length, i + 1 < chain.Length ? chain[i + 1].Type : (byte)6));
        var frame = new List<byte>(plain[..54]);
        frame.AddRange(ext);
        frame.AddRange(plain[54..]);
        var f = frame.ToArray();
        if (chain.Length > 0) f[14 + 6] = chain[0].Type;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 4), (ushort)(f.Length - 54));
        return f;
    }

    private (XdpAction Action, ulong Judged, ulong Unparsed) Run(byte[] frame)
    {
        ulong judged = Prog.VerdictCount(Layout.VerdictAllowPolicy) + Prog.VerdictCount(Layout.VerdictDenyPolicy);
        ulong unparsed = Prog.VerdictCount(Layout.VerdictUnparsed);
        var action = Prog.Run(frame).XdpAction;
        return (action,
            Prog.VerdictCount(Layout.VerdictAllowPolicy) + Prog.VerdictCount(Layout.VerdictDenyPolicy) - judged,
            Prog.VerdictCount(Layout.VerdictUnparsed) - unparsed);
    }

    [KernelFact]
    public void Extension_headers_of_every_length_are_stepped_over_and_the_syn_judged()
    {
        AllowAll();
        foreach (byte type in new byte[] { Packets.HopByHop, Packets.Routing, Packets.DestOptions })
            foreach (byte len in new byte[] { 0, 1, 2, 5, 15 })
            {
                var r = Run(Syn6(Local6, (type, len)));
                Assert.True(r == (XdpAction.Pass, 1UL, 0UL), $"header {type} with length byte {len}: {r}");
            }
        // Mixed lengths in one chain.
        var chain = Run(Syn6(Local6, (Packets.HopByHop, 3), (Packets.DestOptions, 1), (Packets.Routing, 2), (Packets.DestOptions, 0)));
        Assert.Equal((XdpAction.Pass, 1UL, 0UL), chain);
    }

    [KernelFact]
    public void An_authentication_header_before_tcp_is_stepped_over_in_four_byte_units()
    {
        AllowAll();
        foreach (byte len in new byte[] { 1, 4, 7 }) // 12, 24 and 36 bytes: (len + 2) * 4
        {
            var r = Run(Syn6(Local6, (Ah, len)));
            Assert.True(r == (XdpAction.Pass, 1UL, 0UL), $"AH with length byte {len}: {r}");
        }
        var mixed = Run(Syn6(Local6, (Packets.HopByHop, 1), (Ah, 4), (Packets.DestOptions, 2)));
        Assert.Equal((XdpAction.Pass, 1UL, 0UL), mixed);
    }

    [KernelFact]
    public void A_length_that_points_past_the_packet_drops_a_syn_to_a_local_workload()
    {
        AllowAll();
        foreach (var (type, len) in new (byte, byte)[] { (Packets.HopByHop, 255), (Packets.DestOptions, 40), (Ah, 255), (Packets.Routing, 200) })
        {
            var f = Syn6(Local6, (type, 0));
            if (type == Ah) f = Syn6(Local6, (Ah, 1));
            f[54 + 1] = len; // the header claims more than the packet holds
            var r = Run(f);
            Assert.True(r == (XdpAction.Drop, 0UL, 1UL), $"header {type} claiming length byte {len}: {r}");
            // Not a local workload: not ours, passes.
            var other = Syn6(IPAddress.Parse("fd00::99"), (type, 0));
            other[54 + 1] = len;
            Assert.Equal(XdpAction.Pass, Run(other).Action);
        }
    }

    [KernelFact]
    public void An_ipv4_first_fragment_with_more_fragments_set_is_judged()
    {
        AllowAll(Layout.ActionDeny);
        var f = Packets.Syn(Client4, Local4, 80);
        f[14 + 6] = 0x20; f[14 + 7] = 0x00; // MF set, offset 0: the first fragment, holding the TCP header
        Assert.Equal((XdpAction.Drop, 1UL, 0UL), Run(f));
        // MF with DF and offset 0: still the first fragment.
        f[14 + 6] = 0x60;
        Assert.Equal((XdpAction.Drop, 1UL, 0UL), Run(f));
        // Offset 8 (a later fragment): no TCP header, passes unjudged.
        f[14 + 6] = 0x20; f[14 + 7] = 0x01;
        Assert.Equal((XdpAction.Pass, 0UL, 0UL), Run(f));
    }
}
