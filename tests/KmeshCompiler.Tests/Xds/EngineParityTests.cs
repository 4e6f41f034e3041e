using System.Text.Json;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Xds;

/// <summary>A YAML world and its snapshot answer every question alike: the reference evaluator's
/// decision for every connection, and the load balancer's endpoints for every node, service and port.</summary>
public sealed class EngineParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmesh-xds-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertSameAnswers(World a, World b, Random rng, int connections)
    {
        var ea = new Evaluator(a);
        var eb = new Evaluator(b);
        for (int i = 0; i < connections; i++)
        {
            var c = WorldGen.Connection(rng, a);
            if (i % 2 == 0) c = ea.ResolveIdentity(c);
            var va = ea.Decide(c);
            var vb = eb.Decide(c);
            Assert.True((va.Decision, va.Reason, va.Policy?.Key) == (vb.Decision, vb.Reason, vb.Policy?.Key), $"{c}: {va.Decision}/{va.Reason}/{va.Policy?.Key} vs {vb.Decision}/{vb.Reason}/{vb.Policy?.Key}");
            Assert.Equal(va.DryRun.Select(d => (d.Policy.Key, d.Matched)), vb.DryRun.Select(d => (d.Policy.Key, d.Matched)));
        }
        foreach (var node in a.Nodes)
            foreach (var s in a.Services)
                foreach (var p in s.Ports)
                {
                    var la = LoadBalancer.Resolve(a, node.Name, s, p.Port);
                    var lb = LoadBalancer.Resolve(b, node.Name, b.Services.Single(x => x.Key == s.Key), p.Port);
                    Assert.Equal(la.Mode, lb.Mode);
                    Assert.Equal(la.Endpoints.Select(e => (e.Workload.Uid, e.Address, e.Port, e.Priority, e.Weight, e.Selectable)),
                                 lb.Endpoints.Select(e => (e.Workload.Uid, e.Address, e.Port, e.Priority, e.Weight, e.Selectable)));
                }
    }

    [Fact]
    public void Generated_worlds_and_their_snapshots_decide_alike()
    {
        for (int seed = 0; seed < 25; seed++)
        {
            // Node networks are not on the wire (a snapshot's nodes have none), so the generated
            // world's nodes are compared without them.
            var w = Support.WorldGen.World(new Random(seed));
            w = w with { Nodes = [.. w.Nodes.Select(n => n with { Network = "" })] };
            var snap = RoundTripTests.Read(SnapshotWriter.Write(w, SnapshotFormat.Binary), "w.pb", out _);
            AssertSameAnswers(w, snap, new Random(seed), 300);
        }
    }

    [Fact]
    public void Bookinfo_and_its_snapshot_decide_alike()
    {
        var yaml = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default);
        var snap = RoundTripTests.Read(SnapshotWriter.Write(yaml.World, SnapshotFormat.Binary), "bookinfo.pb", out _);
        AssertSameAnswers(yaml.World, snap, new Random(3), 2000);
    }

    private static JsonElement Json(CliResult r)
    {
        Assert.True(r.Exit == 0, r.Err);
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    [Fact]
    public void Check_and_lb_commands_answer_alike_from_yaml_and_from_its_snapshot()
    {
        string snapshot = Path.Combine(_dir, "bookinfo.pb");
        Assert.Equal(0, CliRunner.Run("snapshot", "examples/bookinfo", "-o", snapshot).Exit);
        var world = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default).World;
        var pods = world.Workloads.Select(w => w.Key).ToList();
        int asked = 0;
        foreach (var dst in pods)
            foreach (var src in pods.Prepend(null))
                foreach (var port in new[] { "9080", "15021" })
                {
                    string[] args = src is null ? ["--dst", dst, "--port", port, "--format", "json"] : ["--dst", dst, "--src", src, "--port", port, "--format", "json"];
                    var y = Json(CliRunner.Run(["check", "examples/bookinfo", .. args]));
                    var s = Json(CliRunner.Run(["check", snapshot, .. args]));
                    foreach (var field in new[] { "decision", "reason", "policy", "dryRun", "connection" })
                        Assert.Equal(y.GetProperty(field).GetRawText(), s.GetProperty(field).GetRawText());
                    asked++;
                }
        Assert.True(asked >= 100);
        foreach (var node in world.Nodes)
            foreach (var svc in world.Services)
                foreach (var p in svc.Ports)
                {
                    string[] args = ["--node", node.Name, "--service", $"{svc.Namespace}/{svc.Name}", "--port", p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--format", "json"];
                    var y = CliRunner.Run(["lb", "examples/bookinfo", .. args]);
                    var s = CliRunner.Run(["lb", snapshot, .. args]);
                    Assert.Equal(y.Exit, s.Exit);
                    Assert.Equal(y.Out, s.Out);
                }
    }
}

public sealed class CompileParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmesh-xds-compile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Compile_gives_the_same_image_from_yaml_and_from_its_snapshot()
    {
        string snapshot = Path.Combine(_dir, "bookinfo.pb");
        Assert.Equal(0, CliRunner.Run("snapshot", "examples/bookinfo", "-o", snapshot).Exit);
        var world = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default).World;
        Assert.NotEmpty(world.Nodes);
        foreach (var node in world.Nodes)
        {
            string a = Path.Combine(_dir, $"{node.Name}-yaml.img"), b = Path.Combine(_dir, $"{node.Name}-snap.img");
            var ry = CliRunner.Run("compile", "examples/bookinfo", "--node", node.Name, "-o", a);
            var rs = CliRunner.Run("compile", snapshot, "--node", node.Name, "-o", b);
            Assert.True(ry.Exit == 0, ry.Err);
            Assert.True(rs.Exit == 0, rs.Err);
            Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        }
    }
}
