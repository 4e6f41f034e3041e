using System.Net;
using System.Text;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Real packets: XDP on a veth between two namespaces, and connect4/connect6 on a test cgroup.</summary>
public sealed class RealTrafficTests
{
    [KernelFact]
    public void Xdp_on_a_veth_lets_the_allowed_port_connect_and_drops_the_denied_syn()
    {
        using var veth = new VethPair();
        using var prog = DataPlane.Load();
        var t = new HandTables();
        uint deny = t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(new KmeshMatch { PortSet = t.PortSet(8081), SrcSet = t.AddrSet($"{veth.A4}/32", $"{veth.A6}/128") }))));
        uint eval = t.Eval(false, deny);
        t.Workload(veth.B4, 0, eval);
        t.Workload(veth.B6, 0, eval);
        prog.Fill(t.Contents());

        using var open4 = new Listener(new IPEndPoint(veth.B4, 8080), "open", veth.B);
        using var shut4 = new Listener(new IPEndPoint(veth.B4, 8081), "shut", veth.B);
        using var open6 = new Listener(new IPEndPoint(veth.B6, 8080), "open6", veth.B);
        using var shut6 = new Listener(new IPEndPoint(veth.B6, 8081), "shut6", veth.B);
        // Without XDP both ports answer.
        Assert.Equal("shut", Listener.Connect(veth.A, new IPEndPoint(veth.B4, 8081), TimeSpan.FromSeconds(3)));

        veth.B.Run(() =>
        {
            using var attached = prog.Program.AttachXdp(veth.IfB);
            var timeout = TimeSpan.FromMilliseconds(1500);
            Assert.Equal("open", Listener.Connect(veth.A, new IPEndPoint(veth.B4, 8080), TimeSpan.FromSeconds(3)));
            Assert.Equal("open6", Listener.Connect(veth.A, new IPEndPoint(veth.B6, 8080), TimeSpan.FromSeconds(3)));
            Assert.Null(Listener.Connect(veth.A, new IPEndPoint(veth.B4, 8081), timeout));
            Assert.Null(Listener.Connect(veth.A, new IPEndPoint(veth.B6, 8081), timeout));
        });
        Assert.Equal(1, shut4.Accepted);
        Assert.Equal(0, shut6.Accepted);
        var (matched, denied, _) = prog.PolicyCounters(deny);
        Assert.True(denied >= 2, $"denied counter {denied}");
        Assert.Equal(matched, denied);
        Assert.True(prog.VerdictCount(Layout.VerdictDenyPolicy) >= 2);
        Assert.True(prog.VerdictCount(Layout.VerdictAllowNoAllow) >= 2);
    }

    private static byte[] Bytes<T>(T v) where T : unmanaged => HandTables.Bytes(v);

    /// <summary>A service VIP:port with endpoints per priority; returns the km_* contents.</summary>
    private static IEnumerable<MapContent> ServiceTables(IPAddress vip, uint port, uint mode, params (int Priority, IPEndPoint Endpoint)[] endpoints)
    {
        bool v6 = vip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        var svcKey = new byte[24];
        vip.GetAddressBytes().CopyTo(svcKey, 0);
        BitConverter.TryWriteBytes(svcKey.AsSpan(16), v6 ? 1u : 0u);
        BitConverter.TryWriteBytes(svcKey.AsSpan(20), port);
        var svc = new byte[56];
        BitConverter.TryWriteBytes(svc.AsSpan(0), 7u);
        BitConverter.TryWriteBytes(svc.AsSpan(4), mode);
        var eps = new List<(byte[], byte[])>();
        var backends = new List<(byte[], byte[])>();
        var perPrio = new int[Layout.Priorities];
        foreach (var (prio, ep) in endpoints)
        {
            uint id = (uint)backends.Count;
            var b = new byte[24];
            ep.Address.GetAddressBytes().CopyTo(b, 0);
            BitConverter.TryWriteBytes(b.AsSpan(16), v6 ? 1u : 0u);
            BitConverter.TryWriteBytes(b.AsSpan(20), (uint)ep.Port);
            backends.Add((Bytes(id), b));
            eps.Add((Bytes(new KmeshEndpointKey { ServiceId = 7, Priority = (uint)prio, Index = (uint)perPrio[prio]++ }), Bytes(id)));
        }
        for (int p = 0; p < perPrio.Length; p++) BitConverter.TryWriteBytes(svc.AsSpan(8 + 4 * p), (uint)perPrio[p]);
        return
        [
            new(Layout.MapServices, 24, 56, [(svcKey, svc)]),
            new(Layout.MapEndpoints, 12, 4, eps),
            new(Layout.MapBackends, 4, 24, backends),
        ];
    }

    private static string Fetch(TestCgroup cg, IPAddress vip, int port, string? netns = null)
    {
        string host = vip.ToString();
        return cg.RunInside($"exec 3<>/dev/tcp/{host}/{port} && head -n1 <&3", TimeSpan.FromSeconds(10), netns).Trim();
    }

    [KernelFact]
    public void A_connect_from_the_cgroup_to_a_service_reaches_the_preferred_endpoint()
    {
        int basePort = 20000 + Random.Shared.Next(20000);
        var vip = IPAddress.Parse("127.0.0.100");
        var near = new IPEndPoint(IPAddress.Parse("127.0.0.2"), basePort + 1);
        var far = new IPEndPoint(IPAddress.Parse("127.0.0.3"), basePort + 2);
        using var lNear = new Listener(near, "near");
        using var lFar = new Listener(far, "far");
        using var lVip = new Listener(new IPEndPoint(vip, basePort), "original");
        using var cg = new TestCgroup();
        using var prog = DataPlane.Load();
        using var attached = prog.AttachCgroup(cg.Path);

        // FAILOVER: the first non-empty priority, whatever lies below it.
        prog.Fill(ServiceTables(vip, (uint)basePort, Layout.LbFailover, (1, near), (3, far)));
        for (int i = 0; i < 5; i++) Assert.Equal("near", Fetch(cg, vip, basePort));
        Assert.Equal(5UL, prog.LbCount(Layout.LbOutRewritten));

        // STRICT with nothing at priority 0: the connect keeps its original destination, and is counted.
        prog.Fill(ServiceTables(vip, (uint)basePort, Layout.LbStrict, (1, near), (3, far)));
        Assert.Equal("original", Fetch(cg, vip, basePort));
        Assert.Equal(1UL, prog.LbCount(Layout.LbOutNoEndpoint));

        // PASSTHROUGH: untouched.
        prog.Fill(ServiceTables(vip, (uint)basePort, Layout.LbPassthrough, (0, near)));
        Assert.Equal("original", Fetch(cg, vip, basePort));
        Assert.Equal(1UL, prog.LbCount(Layout.LbOutPassthrough));

        // UNSPECIFIED: one bucket; both endpoints are reached.
        prog.Fill(ServiceTables(vip, (uint)basePort, Layout.LbUnspecified, (0, near), (0, far)));
        var seen = Enumerable.Range(0, 40).Select(_ => Fetch(cg, vip, basePort)).ToHashSet();
        Assert.Equal(["far", "near"], seen.Order());

        // A dual-stack socket connecting to the IPv4-mapped VIP goes through connect6 and is balanced too.
        prog.Fill(ServiceTables(vip, (uint)basePort, Layout.LbFailover, (1, near), (3, far)));
        Assert.Equal("near", Fetch(cg, IPAddress.Parse("::ffff:127.0.0.100"), basePort));

        // A process outside the cgroup is not rewritten.
        using var outside = new System.Net.Sockets.TcpClient();
        outside.Connect(vip, basePort);
        var buf = new byte[16];
        int n = outside.GetStream().Read(buf);
        Assert.Equal("original", Encoding.ASCII.GetString(buf, 0, n).Trim());
    }

    [KernelFact]
    public void Connect6_rewrites_to_the_preferred_ipv6_endpoint()
    {
        using var ns = new NetNs();
        var vip = IPAddress.Parse("fd00:77::100");
        var near = new IPEndPoint(IPAddress.Parse("fd00:77::2"), 9090);
        var far = new IPEndPoint(IPAddress.Parse("fd00:77::3"), 9091);
        foreach (var a in new[] { vip, near.Address, far.Address }) ns.Ip("addr", "add", $"{a}/128", "dev", "lo", "nodad");
        using var lNear = new Listener(near, "near6", ns);
        using var lFar = new Listener(far, "far6", ns);
        using var cg = new TestCgroup();
        using var prog = DataPlane.Load();
        using var attached = prog.AttachCgroup(cg.Path);
        prog.Fill(ServiceTables(vip, 80, Layout.LbFailover, (2, near), (5, far)));
        Assert.Equal("near6", Fetch(cg, vip, 80, ns.Name));
        Assert.Equal(1UL, prog.LbCount(Layout.LbOutRewritten));
    }
}
