using System.Diagnostics;
using System.Net;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Real traffic through a swap-heavy life: XDP attached through a pinned link on a veth,
/// a client connecting all the time, 100 loads of two alternating images each by a new loader
/// process (one of them killed midway, one attach repeated), and no connection lost on the port
/// both images allow, none let through on the port both deny, and counters that keep counting.</summary>
public sealed class RestartTests(ITestOutputHelper output)
{
    private static readonly SourceLocation None = SourceLocation.None;

    private static Policy Allow(string name, uint port) => new(name, "web", PolicyScope.Namespace, PolicyAction.Allow, false,
        [new Rule([new Clause([Match.Empty(None) with { DestinationPorts = [port] }], None)], None)], None);

    private static Policy Deny(string name, uint port, bool dryRun) => new(name, "web", PolicyScope.Namespace, PolicyAction.Deny, dryRun,
        [new Rule([new Clause([Match.Empty(None) with { DestinationPorts = [port] }], None)], None)], None);

    private static string Compile(VethPair veth, string file, params Policy[] policies)
    {
        var server = new Workload("Kubernetes//Pod/web/server", "server", "web", "server", Workload.DefaultTrustDomain,
            [IpAddr.Parse(veth.B4.ToString()), IpAddr.Parse(veth.B6.ToString())], "n1", "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], None);
        var world = new Ir.World([new Namespace("web", None)], [new Node("n1", Locality.Empty, "", None)], [server], [], [.. policies]).Canonical();
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, "n1", bag) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted()));
        string path = Path.Combine(Directory.CreateTempSubdirectory("kmesh-restart").FullName, file);
        File.WriteAllBytes(path, image.ToBytes());
        return path;
    }

    [KernelFact]
    public void Connections_survive_a_hundred_loads_by_restarted_loaders_and_counters_keep_counting()
    {
        using var fs = new BpfFs();
        using var veth = new VethPair();
        string dir = fs["kmesh"];
        // Both allow 8080 and deny 9090; in y the allow policy has another id (DENY policies come first).
        string x = Compile(veth, "x.img", Allow("allow-8080", 8080));
        string y = Compile(veth, "y.img", Allow("allow-8080", 8080), Deny("deny-9090", 9090, false), Deny("dry-8080", 8080, true));
        Assert.Equal(0, KmeshcProcess.Run(null, "load", x, "--pin-dir", dir).Exit);
        using var open = new Listener(new IPEndPoint(veth.B4, 8080), "open", veth.B);
        using var shut = new Listener(new IPEndPoint(veth.B4, 9090), "shut", veth.B);
        void Attach() => veth.B.Run(() =>
        {
            using var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(30), create: false);
            loader.AttachXdp(veth.IfB, XdpMode.Generic);
        });
        Attach();

        int ok = 0, lost = 0, leaked = 0, probes = 0;
        using var stop = new CancellationTokenSource();
        var client = Task.Run(() =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                if (Listener.Connect(veth.A, new IPEndPoint(veth.B4, 8080), TimeSpan.FromSeconds(3)) == "open") ok++; else lost++;
                if (++i % 25 == 0)
                {
                    probes++;
                    if (Listener.Connect(veth.A, new IPEndPoint(veth.B4, 9090), TimeSpan.FromMilliseconds(300)) is not null) leaked++;
                }
            }
        });
        var clock = Stopwatch.StartNew();
        try
        {
            for (int i = 0; i < 100; i++)
            {
                string image = i % 2 == 0 ? y : x;
                if (i == 50)
                {
                    using var p = KmeshcProcess.Start(null, "load", image, "--pin-dir", dir);
                    Thread.Sleep(150);
                    p.Kill();
                    p.WaitForExit();
                }
                if (i == 70) Attach();
                var r = KmeshcProcess.Run(null, "load", image, "--pin-dir", dir);
                Assert.True(r.Exit == 0, $"load {i}: {r.Err}");
            }
        }
        finally
        {
            stop.Cancel();
            client.Wait();
        }
        output.WriteLine($"100 loads in {clock.ElapsedMilliseconds} ms: {ok} connections on 8080 ({lost} lost), {probes} probes of 9090 ({leaked} let through)");
        Assert.Equal(0, lost);
        Assert.Equal(0, leaked);
        Assert.True(ok >= 100 && probes >= 4, $"{ok} connections, {probes} probes");
        Assert.Equal(0, shut.Accepted);
        using var objects = NodeObjects.OpenPinned(dir);
        var counters = NodeCounters.Read(objects);
        var allow = counters.Policies.Single(p => p.Policy == "web/allow-8080");
        Assert.True(allow.InForce);
        Assert.True(allow.Matched >= (ulong)ok, $"web/allow-8080 matched {allow.Matched} times for {ok} connections");
        Assert.True(counters.Verdicts[Layout.VerdictAllowPolicy] >= (ulong)ok);
        Assert.Equal(0, CliRunner.Run("unload", "--pin-dir", dir).Exit);
        Assert.DoesNotContain("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
    }
}
