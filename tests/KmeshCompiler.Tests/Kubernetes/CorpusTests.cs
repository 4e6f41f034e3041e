using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>Real-shaped inputs (tests/corpus): a Helm rendering, a `kubectl get -A -o yaml` List, a
/// Kustomize build, workload templates, host-network pods, namespaces in and out of the mesh and
/// objects without a namespace. Each has a golden `validate` output; no KM4013 may appear except on
/// the policies named "*typo*", which are wrong on purpose.</summary>
public class CorpusTests
{
    /// <summary>Each case and the extra arguments it is validated with (as a user would run it).</summary>
    public static readonly TheoryData<string, string[]> Cases = new()
    {
        { "helm-rendered", ["-n", "storefront"] },
        { "kubectl-list", [] },
        { "kustomize", [] },
        { "mesh-membership", [] },
        { "host-network", [] },
        { "no-namespace", ["-n", "finance"] },
    };

    private static string Dir(string name) => $"tests/corpus/{name}";

    private static LoadResult Load(string name, string ns = "default") =>
        InputLoader.Load([Repo.Path("tests", "corpus", name)], FrontendSettings.Default with { DefaultNamespace = ns });

    [Theory]
    [MemberData(nameof(Cases))]
    [Trait("Category", "Golden")]
    public void Golden_validate(string name, string[] args) =>
        Golden.Assert($"validate/corpus/{name}.txt", CliRunner.Run(["validate", Dir(name), .. args]).Out);

    /// <summary>`check` on real-shaped inputs: a template, a Service, a workload the mesh does not
    /// enforce, a host-network source.</summary>
    [Trait("Category", "Golden")]
    [Theory]
    [InlineData("template", "kustomize", "deployment/logistics/prod-tracker", "8000", "cronjob/logistics/prod-nightly-report")]
    [InlineData("service", "kubectl-list", "svc/payments/ledger", "443", null)]
    [InlineData("not-enrolled", "mesh-membership", "shop/debug-0", "80", "shop/cart-0")]
    [InlineData("host-network-source", "host-network", "apps/api-0", "80", "kube-system/kube-proxy-abcde")]
    public void Golden_check(string name, string dir, string dst, string port, string? src)
    {
        string[] args = ["check", Dir(dir), "--dst", dst, "--port", port, .. src is null ? Array.Empty<string>() : ["--src", src]];
        var r = CliRunner.Run(args);
        Assert.Equal(0, r.Exit);
        Golden.Assert($"check/corpus/{name}.txt", r.Out);
        Golden.Assert($"check/corpus/{name}.json", CliRunner.Run([.. args, "--format", "json"]).Out);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void No_false_KM4013_and_no_errors(string name, string[] args)
    {
        var r = CliRunner.Run(["validate", Dir(name), "--format", "json", .. args]);
        Assert.Equal(0, r.Exit);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        foreach (var d in doc.RootElement.GetProperty("diagnostics").EnumerateArray())
        {
            Assert.NotEqual("error", d.GetProperty("severity").GetString());
            if (d.GetProperty("code").GetString() == "KM4013")
                Assert.Contains("typo", d.GetProperty("object").GetString());
        }
    }

    [Fact]
    public void Templates_become_workloads_without_addresses()
    {
        var w = Load("kustomize").World;
        var kinds = w.Workloads.ToDictionary(x => x.Name, x => x.Kind);
        Assert.Equal("Deployment", kinds["prod-tracker"]);
        Assert.Equal("StatefulSet", kinds["prod-queue"]);
        Assert.Equal("DaemonSet", kinds["prod-log-shipper"]);
        Assert.Equal("CronJob", kinds["prod-nightly-report"]);
        Assert.Equal("Job", kinds["prod-migrate"]);
        Assert.Equal("Rollout", kinds["prod-pricing"]);
        Assert.All(w.Workloads, x => Assert.True(x.IsTemplate && x.Addresses.IsEmpty));
        var tracker = w.Workloads.Single(x => x.Name == "prod-tracker");
        Assert.Equal("Kubernetes//Deployment/logistics/prod-tracker", tracker.Uid);
        Assert.Equal("tracker", tracker.ServiceAccount);
        Assert.Contains("logistics/prod-tracker", tracker.AuthorizationPolicies);
        // The selector team=logistics reaches every template, the CronJob's included.
        Assert.All(w.Workloads, x => Assert.Contains("logistics/prod-batch", x.AuthorizationPolicies));
        Assert.Equal("reporter", w.Workloads.Single(x => x.Name == "prod-nightly-report").ServiceAccount);
    }

    [Fact]
    public void Objects_without_namespace_take_the_given_one()
    {
        var w = Load("no-namespace", "finance").World;
        Assert.All(w.Workloads, x => Assert.Equal("finance", x.Namespace));
        Assert.All(w.Policies, x => Assert.Equal("finance", x.Namespace));
        Assert.Equal("finance", Assert.Single(w.Services).Namespace);
        var d = Load("no-namespace").World;
        Assert.All(d.Policies, x => Assert.Equal("default", x.Namespace));
        var r = CliRunner.Run("validate", Dir("no-namespace"), "-n", "finance");
        Assert.Contains("AuthorizationPolicy finance/billing-typo", CliRunner.Run("validate", Dir("no-namespace"), "-n", "finance", "--format", "json").Out);
        Assert.Contains("namespace 'finance'", r.Out);
    }

    [Fact]
    public void Enrolment_follows_the_dataplane_mode_label()
    {
        var w = Load("mesh-membership").World;
        bool Enrolled(string name) => w.Workloads.Single(x => x.Name == name).Enrolled;
        Assert.True(Enrolled("cart-0"));      // namespace ambient
        Assert.True(Enrolled("stock-0"));     // namespace Kmesh
        Assert.False(Enrolled("debug-0"));    // pod opts out
        Assert.False(Enrolled("mainframe-0")); // namespace without the label
        Assert.True(Enrolled("bridge-0"));    // pod opts in
        // Without the label anywhere, every workload is enrolled.
        Assert.All(Load("host-network").World.Workloads, x => Assert.True(x.Enrolled));
    }

    [Fact]
    public void Not_enrolled_workloads_are_not_enforced_but_keep_their_identity()
    {
        var w = Load("mesh-membership").World;
        var ev = new Evaluator(w);
        var debug = ev.Decide(ev.ResolveIdentity(new Connection(IpAddr.Parse("10.1.0.10"), IpAddr.Parse("10.1.0.11"), 80, null)));
        Assert.Equal((Decision.Allow, Reasons.NotEnforced), (debug.Decision, debug.Reason));
        // The mainframe is outside the mesh, but its identity still lets it reach the cart.
        var cart = ev.Decide(ev.ResolveIdentity(new Connection(IpAddr.Parse("10.1.0.30"), IpAddr.Parse("10.1.0.10"), 80, null)));
        Assert.Equal((Decision.Allow, Reasons.AllowedByPolicy), (cart.Decision, cart.Reason));

        var image = Lowerer.Lower(w, "node-a", new DiagnosticBag())!;
        var interp = new ImageInterpreter(image);
        Assert.Equal(KernelAction.NotEvaluated, interp.Syn(IpAddr.Parse("10.1.0.10"), IpAddr.Parse("10.1.0.11"), 80).Action);
        Assert.Equal(KernelAction.NotEvaluated, interp.Syn(IpAddr.Parse("10.1.0.10"), IpAddr.Parse("10.1.0.30"), 23).Action);
        Assert.Equal(KernelAction.Pass, interp.Syn(IpAddr.Parse("10.1.0.30"), IpAddr.Parse("10.1.0.10"), 80).Action);
        Assert.Equal(KernelAction.Drop, interp.Syn(IpAddr.Parse("10.1.0.20"), IpAddr.Parse("10.1.0.10"), 80).Action);
    }

    [Fact]
    public void Host_network_pods_lend_no_identity_in_evaluator_and_image()
    {
        var w = Load("host-network").World;
        Assert.All(w.Workloads.Where(x => x.Namespace is "kube-system" or "monitoring"), x => Assert.Equal(NetworkMode.HostNetwork, x.NetworkMode));
        var ev = new Evaluator(w);
        var node = IpAddr.Parse("192.168.10.5");
        Assert.Null(ev.IdentityOf(node));
        // The principal of kube-proxy never matches; the node's address block does.
        var fromNode = ev.Decide(ev.ResolveIdentity(new Connection(node, IpAddr.Parse("10.2.0.7"), 80, null)));
        Assert.Equal(Decision.Allow, fromNode.Decision);
        var withIdentity = ev.Explain(new Connection(IpAddr.Parse("10.9.9.9"), IpAddr.Parse("10.2.0.7"), 80, new Identity("cluster.local", "kube-system", "kube-proxy")));
        Assert.Equal(Decision.Allow, withIdentity.Verdict.Decision);
        var image = Lowerer.Lower(w, "node-a", new DiagnosticBag())!;
        var interp = new ImageInterpreter(image);
        Assert.Equal(KernelAction.Pass, interp.Syn(node, IpAddr.Parse("10.2.0.7"), 80).Action);
        // The host-network exporter is not enforced: its address is not in the image.
        Assert.Equal(KernelAction.NotEvaluated, interp.Syn(IpAddr.Parse("10.2.0.7"), node, 9100).Action);
        var text = ImageText.Render(image);
        Assert.DoesNotContain("kube-proxy", text);
        Assert.DoesNotContain("node-exporter-fghij", text);
    }

    [Fact]
    public void Host_network_identity_and_not_enforced_policies_are_warned()
    {
        var bag = Load("host-network").Diagnostics;
        var hn = Assert.Single(bag.Items, d => d.Code == Codes.HostNetworkIdentity.Code);
        Assert.Contains("kube-system/kube-proxy-abcde", hn.Message);
        var ne = Assert.Single(bag.Items, d => d.Code == Codes.SelectsOnlyNotEnforced.Code);
        Assert.Equal("AuthorizationPolicy monitoring/node-exporter", ne.Object);
        Assert.Contains("host network", ne.Message);
        var mm = Load("mesh-membership").Diagnostics.Items.Where(d => d.Code == Codes.SelectsOnlyNotEnforced.Code).Select(d => d.Object).Order().ToList();
        Assert.Equal(["AuthorizationPolicy legacy/mainframe", "AuthorizationPolicy shop/debug"], mm);
    }

    [Fact]
    public void KM4013_says_why()
    {
        string Why(string yaml) => Assert.Single(Kube.Build(yaml).Bag.Items, d => d.Code == "KM4013").Message;
        const string pods = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: empty}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: shop}
            spec:
              template:
                metadata: {labels: {app: web, tier: front}}
                spec: {containers: [{name: c}]}
            ---

            """;
        Assert.Contains("namespace 'shpo' does not exist and holds no workloads; did you mean 'shop'?",
            Why(pods + Kube.Policy("  selector: {matchLabels: {app: web}}\n", ns: "shpo")));
        Assert.Contains("namespace 'empty' has no workloads",
            Why(pods + Kube.Policy("  selector: {matchLabels: {app: web}}\n", ns: "empty")));
        Assert.Contains("no workload in namespace 'shop' has the labels {app: wbe}; the closest label set is {app: web, tier: front} (Deployment shop/web)",
            Why(pods + Kube.Policy("  selector: {matchLabels: {app: wbe}}\n", ns: "shop")));
        Assert.Contains("namespace 'empty' has no workloads", Why(pods + Kube.Policy("  {}\n", ns: "empty")));
        // The template itself is enough: no KM4013 for the right labels.
        Kube.Lacks(Kube.Build(pods + Kube.Policy("  selector: {matchLabels: {app: web}}\n", ns: "shop")).Bag, Codes.SelectsNothing);
    }

    [Fact]
    public void Check_by_template_and_by_service()
    {
        var r = CliRunner.Run("check", Dir("kustomize"), "--dst", "deployment/logistics/prod-tracker", "--port", "8000", "--src", "cronjob/logistics/prod-nightly-report");
        Assert.Equal(0, r.Exit);
        Assert.Contains("decision: ALLOW (allowed by policy) by logistics/prod-tracker", r.Out);
        Assert.Contains("destination Deployment logistics/prod-tracker (a pod template", r.Out);
        r = CliRunner.Run("check", Dir("kustomize"), "--dst", "deploy/logistics/prod-tracker", "--port", "8000");
        Assert.Contains("decision: DENY (allow policies exist, but none allowed)", r.Out);

        r = CliRunner.Run("check", Dir("kubectl-list"), "--dst", "svc/payments/ledger", "--port", "443");
        Assert.Equal(0, r.Exit);
        Assert.Contains("=== endpoint payments/ledger-7c9d8f6b5-q2x8k: service port 443 -> target port 7070", r.Out);
        Assert.Contains("=== endpoint Deployment payments/ledger: service port 443 -> target port 7070", r.Out);
        var ip = CliRunner.Run("check", Dir("kubectl-list"), "--dst", "10.96.44.12", "--port", "443");
        Assert.Equal(r.Out, ip.Out);
        Assert.Equal(1, CliRunner.Run("check", Dir("kubectl-list"), "--dst", "svc/payments/ledger", "--port", "7070").Exit);

        // A Service port given for a pod gets a hint naming the target port.
        var hint = CliRunner.Run("check", Dir("kubectl-list"), "--dst", "payments/ledger-7c9d8f6b5-q2x8k", "--port", "443");
        Assert.Contains("hint: port 443 is a port of Service svc/payments/ledger; this workload receives it on target port 7070", hint.Err);

        // Host-network source: plaintext from the node, said so.
        var hn = CliRunner.Run("check", Dir("kubectl-list"), "--dst", "payments/ledger-7c9d8f6b5-q2x8k", "--port", "7070", "--src", "kube-system/kube-proxy-7xk2p");
        Assert.Contains("kube-system/kube-proxy-7xk2p uses the host network", hn.Out);
        Assert.Contains("decision: DENY", hn.Out);
    }

    [Fact]
    public void Compile_and_kernel_say_templates_have_no_addresses()
    {
        var c = CliRunner.Run("compile", Dir("kustomize"), "--node", "n", "-o", Path.Combine(Path.GetTempPath(), $"km-{Guid.NewGuid():N}.img"));
        Assert.Equal(1, c.Exit);
        Assert.Contains("KM7010", c.Err);
        var k = CliRunner.Run("check", Dir("kustomize"), "--dst", "deployment/logistics/prod-tracker", "--port", "8000", "--engine", "kernel");
        Assert.Equal(1, k.Exit);
        Assert.Contains("pod template (Deployment) without an address", k.Err);
    }

    [Fact]
    public void Snapshot_and_text_keep_network_mode_and_enrolment()
    {
        foreach (var name in new[] { "mesh-membership", "host-network" })
        {
            var world = Load(name).World;
            var pods = world with { Workloads = [.. world.Workloads.Where(w => !w.IsTemplate)] };
            foreach (var (label, bytes, file, reference) in new[]
            {
                ("binary", KmeshCompiler.Frontends.Xds.SnapshotWriter.Write(world, KmeshCompiler.Frontends.Xds.SnapshotFormat.Binary), "s.pb", false),
                ("binary (reference decoder)", KmeshCompiler.Frontends.Xds.SnapshotWriter.Write(world, KmeshCompiler.Frontends.Xds.SnapshotFormat.Binary), "s.pb", true),
                ("json", KmeshCompiler.Frontends.Xds.SnapshotWriter.Write(world, KmeshCompiler.Frontends.Xds.SnapshotFormat.Json), "s.json", false),
            })
            {
                var bag = new DiagnosticBag();
                var back = KmeshCompiler.Frontends.Xds.XdsFrontend.Read(new SourceText(file, bytes), bag, reference);
                Assert.False(bag.HasErrors, label);
                Assert.Equal(pods.Workloads.Select(w => (w.Uid, w.NetworkMode, w.Enrolled)), back.Workloads.Select(w => (w.Uid, w.NetworkMode, w.Enrolled)));
            }
            var kplBag = new DiagnosticBag();
            var kpl = KmeshCompiler.Frontends.Text.KplFrontend.Read(new SourceText("w.kpl", System.Text.Encoding.UTF8.GetBytes(KmeshCompiler.Frontends.Text.KplPrinter.Print(world))), kplBag);
            Assert.False(kplBag.HasErrors, string.Join("\n", kplBag.Items));
            Assert.Null(IrEquality.FirstDifference(world, kpl));
        }
    }
}
