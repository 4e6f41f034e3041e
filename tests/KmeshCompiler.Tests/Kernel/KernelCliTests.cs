using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;
using Kmeshc.Commands;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>`kmeshc counters` on maps pinned in a private bpffs.</summary>
public sealed class KernelCliTests
{
    private static readonly SourceLocation None = SourceLocation.None;

    private static Ir.World World()
    {
        var server = new Workload("Kubernetes//Pod/a/server", "server", "a", "server", Workload.DefaultTrustDomain,
            [IpAddr.Parse("10.1.0.1")], "n1", "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], None);
        var denySsh = new Policy("deny-ssh", "a", PolicyScope.Namespace, PolicyAction.Deny, false,
            [new Rule([new Clause([Match.Empty(None) with { DestinationPorts = [22] }], None)], None)], None);
        var dry = new Policy("dry-deny-web", "a", PolicyScope.Namespace, PolicyAction.Deny, true,
            [new Rule([new Clause([Match.Empty(None) with { DestinationPorts = [80] }], None)], None)], None);
        return new Ir.World([new Namespace("a", None)], [new Node("n1", Locality.Empty, "", None)], [server], [], [denySsh, dry]).Canonical();
    }

    [KernelFact]
    public void Counters_name_the_policy_that_dropped_the_syns()
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(World(), "n1", bag)!;
        Assert.NotNull(image);
        string imagePath = Path.Combine(Directory.CreateTempSubdirectory("kmesh-img").FullName, "n1.img");
        File.WriteAllBytes(imagePath, image.ToBytes());
        using var fs = new BpfFs();
        using var prog = AuthorizationProgram.Load();
        KernelEngine.Fill(prog, image);
        foreach (var m in new[] { "km_policy_stat", "km_verdict_st" }) prog.Map(m).Pin(fs[m]);
        var client = IPAddress.Parse("10.9.0.1");
        for (int i = 0; i < 3; i++) Assert.Equal(XdpAction.Drop, prog.Run(Packets.Syn(client, IPAddress.Parse("10.1.0.1"), 22)).XdpAction);
        Assert.Equal(XdpAction.Pass, prog.Run(Packets.Syn(client, IPAddress.Parse("10.1.0.1"), 80)).XdpAction);

        var r = CliRunner.Run("counters", "--pin-dir", fs.Path, "--image", imagePath, "--format", "json");
        Assert.True(r.Exit == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("verdicts").GetProperty("explicitlyDenied").GetInt32());
        Assert.Equal(1, root.GetProperty("verdicts").GetProperty("noAllowPolicies").GetInt32());
        var policies = root.GetProperty("policies").EnumerateArray().ToDictionary(p => p.GetProperty("policy").GetString()!, p => p);
        Assert.Equal((3, 3, 0), (policies["a/deny-ssh"].GetProperty("matched").GetInt32(), policies["a/deny-ssh"].GetProperty("denied").GetInt32(), policies["a/deny-ssh"].GetProperty("dryRunMatched").GetInt32()));
        Assert.Equal((0, 0, 1), (policies["a/dry-deny-web"].GetProperty("matched").GetInt32(), policies["a/dry-deny-web"].GetProperty("denied").GetInt32(), policies["a/dry-deny-web"].GetProperty("dryRunMatched").GetInt32()));

        var text = CliRunner.Run("counters", "--pin-dir", fs.Path, "--image", imagePath);
        Assert.Equal(0, text.Exit);
        Assert.Matches(@"a/deny-ssh\s+3\s+3\s+0", text.Out);
        Assert.Contains("explicitly denied", text.Out);
    }

    [KernelFact]
    public void Counters_without_pinned_maps_is_an_environment_error()
    {
        using var fs = new BpfFs();
        var r = CliRunner.Run("counters", "--pin-dir", fs.Path);
        Assert.Equal(2, r.Exit);
        Assert.Contains("no pinned counters", r.Err);
        var missing = CliRunner.Run("counters", "--pin-dir", "/nonexistent/kmesh");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("does not exist", missing.Err);
    }
}
