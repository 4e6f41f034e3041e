using System.Net;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using Kmeshc.Commands;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Real connects through cgroup/connect4 and connect6 against the reference load balancer:
/// generated worlds with every mode, compiled per node; every workload address and service VIP lives
/// on the loopback of a test namespace with a listener that names itself, and every connect must
/// reach an endpoint the reference keeps (at its target port), or the original VIP when the
/// reference keeps none.</summary>
public sealed class ConnectDifferentialTests(ITestOutputHelper output)
{
    [KernelFact]
    public void Connects_reach_an_endpoint_the_reference_load_balancer_keeps()
    {
        using var ns = new NetNs("kmlb");
        using var cg = new TestCgroup();
        using var prog = DataPlane.Load();
        using var attached = prog.AttachCgroup(cg.Path);
        int connects = 0, rewritten = 0, original = 0, skipped = 0;
        var failures = new List<string>();
        for (int seed = 300; seed < 303; seed++)
        {
            var world = WorldGen.World(new Random(seed), new WorldGenOptions(Workloads: 10, Services: 5, Policies: 0)).Canonical();
            var listeners = new List<Listener>();
            try
            {
                var addrs = world.Workloads.SelectMany(w => w.Addresses).Concat(world.Services.SelectMany(s => s.Addresses.Select(a => a.Address))).Distinct().ToList();
                foreach (var a in addrs) ns.Ip("addr", "add", $"{a}/{a.Bits}", "dev", "lo", "nodad");
                var endpoints = new HashSet<(IpAddr, uint)>();
                foreach (var s in world.Services)
                    foreach (var p in s.Ports)
                    {
                        foreach (var vip in s.Addresses) endpoints.Add((vip.Address, p.Port));
                        foreach (var w in world.Workloads)
                            foreach (var wp in w.Services.Where(x => x.ServiceKey == s.Key).SelectMany(x => x.Ports))
                                foreach (var a in w.Addresses) { endpoints.Add((a, wp.TargetPort)); endpoints.Add((a, p.TargetPort)); endpoints.Add((a, p.Port)); }
                    }
                foreach (var (a, port) in endpoints.Where(e => e.Item2 is > 0 and <= 65535))
                    listeners.Add(new Listener(new IPEndPoint(new IPAddress(a.ToBytes()), (int)port), $"{a} {port}", ns));

                foreach (var node in world.Nodes.Select(n => n.Name))
                {
                    var bag = new DiagnosticBag();
                    var image = Lowerer.Lower(world, node, bag);
                    if (image is null) { failures.Add($"seed {seed} node {node}: {string.Join("; ", bag.Sorted())}"); continue; }
                    prog.Publish(image);
                    foreach (var s in world.Services)
                        foreach (var p in s.Ports)
                            foreach (var vip in s.Addresses.Select(a => a.Address).Distinct())
                            {
                                var lb = LoadBalancer.Resolve(world, node, s, p.Port);
                                var kept = lb.Selectable.ToList();
                                // The kernel table of a VIP holds the endpoints with an address of its family.
                                if (kept.Any(e => !e.Workload.Addresses.Any(a => a.IsV6 == vip.IsV6))) { skipped++; continue; }
                                var allowed = kept.Select(e => (e.Workload.Addresses.First(a => a.IsV6 == vip.IsV6), e.Port)).ToHashSet();
                                for (int i = 0; i < 2; i++)
                                {
                                    string got = cg.RunInside($"exec 3<>/dev/tcp/{vip}/{p.Port} && head -n1 <&3", TimeSpan.FromSeconds(10), ns.Name).Trim();
                                    connects++;
                                    var parts = got.Split(' ');
                                    var reached = (IpAddr.Parse(parts[0]), uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
                                    bool ok = lb.Mode == LbMode.Passthrough || kept.Count == 0
                                        ? reached == (vip, p.Port)
                                        : allowed.Contains(reached);
                                    if (reached == (vip, p.Port)) original++; else rewritten++;
                                    if (!ok)
                                        failures.Add($"seed {seed} node {node} {s.Key} {vip}:{p.Port} ({lb.Mode}): reached {got}, reference keeps [{string.Join(", ", allowed.Select(x => $"{x.Item1}:{x.Item2}"))}]");
                                }
                            }
                }
            }
            finally
            {
                foreach (var l in listeners) l.Dispose();
                foreach (var a in world.Workloads.SelectMany(w => w.Addresses).Concat(world.Services.SelectMany(s => s.Addresses.Select(x => x.Address))).Distinct())
                    try { ns.Ip("addr", "del", $"{a}/{a.Bits}", "dev", "lo"); } catch (InvalidOperationException) { }
            }
        }
        output.WriteLine($"{connects} connects: {rewritten} rewritten, {original} kept their destination; {skipped} service ports skipped (mixed families)");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.True(rewritten > 20 && original > 0, $"{rewritten} rewritten, {original} original: both outcomes must occur");
    }
}
