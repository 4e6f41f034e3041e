using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using Kmeshc.Commands;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>`kmeshc counters` on a data plane loaded into a private bpffs.</summary>
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
        string dir = fs["kmesh"];
        Assert.Equal(0, CliRunner.Run("load", imagePath, "--pin-dir", dir).Exit);
        using (var pinned = NodeObjects.OpenPinned(dir))
        {
            var prog = new DataPlane(pinned);
            var client = IPAddress.Parse("10.9.0.1");
            for (int i = 0; i < 3; i++) Assert.Equal(XdpAction.Drop, prog.Run(Packets.Syn(client, IPAddress.Parse("10.1.0.1"), 22)).XdpAction);
            Assert.Equal(XdpAction.Pass, prog.Run(Packets.Syn(client, IPAddress.Parse("10.1.0.1"), 80)).XdpAction);
        }

        var r = CliRunner.Run("counters", "--pin-dir", dir, "--format", "json");
        Assert.True(r.Exit == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("verdicts").GetProperty("explicitlyDenied").GetInt32());
        Assert.Equal(1, root.GetProperty("verdicts").GetProperty("noAllowPolicies").GetInt32());
        var policies = root.GetProperty("policies").EnumerateArray().ToDictionary(p => p.GetProperty("policy").GetString()!, p => p);
        Assert.Equal((3, 3, 0), (policies["a/deny-ssh"].GetProperty("matched").GetInt32(), policies["a/deny-ssh"].GetProperty("denied").GetInt32(), policies["a/deny-ssh"].GetProperty("dryRunMatched").GetInt32()));
        Assert.Equal((0, 0, 1), (policies["a/dry-deny-web"].GetProperty("matched").GetInt32(), policies["a/dry-deny-web"].GetProperty("denied").GetInt32(), policies["a/dry-deny-web"].GetProperty("dryRunMatched").GetInt32()));

        var text = CliRunner.Run("counters", "--pin-dir", dir);
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
        Assert.Contains("is missing: the pin directory is incomplete", r.Err);
        var missing = CliRunner.Run("counters", "--pin-dir", "/nonexistent/kmesh");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("does not exist", missing.Err);
    }
}

/// <summary>`kmeshc check --engine kernel` on the bookinfo example: same JSON verdict as the reference.</summary>
public sealed class KernelCheckCliTests
{
    private static readonly string[] Pods = ["10.244.1.12", "10.244.2.7", "10.244.1.15", "10.244.2.9", "10.244.3.4", "10.244.3.6", "10.244.2.31", "10.244.1.3"];

    private static JsonElement Check(string engine, string dst, string src, int port)
    {
        var r = CliRunner.Run("check", "examples/bookinfo", "--dst", dst, "--src", src, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--engine", engine, "--format", "json");
        Assert.True(r.Exit == 0, $"{engine} {src} -> {dst}:{port}: exit {r.Exit}: {r.Err}");
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    [KernelFact]
    public void Kernel_engine_agrees_with_the_reference_on_the_bookinfo_example()
    {
        int denied = 0, cases = 0;
        foreach (var dst in Pods.Take(3))
            foreach (var src in Pods.Append("192.0.2.1"))
                foreach (int port in new[] { 9080, 15008 })
                {
                    var want = Check("reference", dst, src, port);
                    var got = Check("kernel", dst, src, port);
                    Assert.Equal("kernel", got.GetProperty("engine").GetString());
                    foreach (var field in new[] { "decision", "reason", "policy" })
                        Assert.True(want.GetProperty(field).ToString() == got.GetProperty(field).ToString(),
                            $"{src} -> {dst}:{port}: {field} reference '{want.GetProperty(field)}', kernel '{got.GetProperty(field)}'");
                    var wantDry = want.GetProperty("dryRun").EnumerateArray().Where(d => d.GetProperty("matched").GetBoolean()).Select(d => d.GetProperty("policy").GetString()).Order();
                    var gotDry = got.GetProperty("dryRun").EnumerateArray().Where(d => d.GetProperty("matched").GetBoolean()).Select(d => d.GetProperty("policy").GetString()).Order();
                    Assert.Equal(wantDry, gotDry);
                    cases++;
                    if (got.GetProperty("decision").GetString() == "deny") denied++;
                }
        Assert.True(denied > 0 && denied < cases, $"{denied} of {cases} denied: both verdicts must occur");
    }

    [KernelFact]
    public void Kernel_engine_refuses_what_the_kernel_cannot_know()
    {
        var r = CliRunner.Run("check", "examples/bookinfo", "--dst", "10.244.2.9", "--port", "9080", "--engine", "kernel", "--plaintext");
        Assert.Equal(2, r.Exit);
        var notLocal = CliRunner.Run("check", "examples/bookinfo", "--dst", "10.99.0.1", "--port", "9080", "--engine", "kernel");
        Assert.Equal(1, notLocal.Exit);
        Assert.Contains("no workload's address", notLocal.Err);
    }
}
