using System.CommandLine;
using System.Text.RegularExpressions;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Serve;
using KmeshCompiler.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace KmeshCompiler.Tests.Serve;

/// <summary>deploy/: the DaemonSet runs `kmeshc serve` with options the CLI has, its probes ask the
/// paths and port serve listens on, its mounts hold what the arguments name; the Dockerfile builds the
/// programs and kmeshc in stages and runs `kmeshc serve`.</summary>
public sealed class DeployTests
{
    private static List<YamlMappingNode> Documents()
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Repo.Path("deploy", "kmeshc-daemonset.yaml"))) stream.Load(reader);
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static YamlNode At(YamlNode node, params string[] path)
    {
        foreach (var key in path)
            node = ((YamlMappingNode)node).Children.TryGetValue(new YamlScalarNode(key), out var next) ? next : throw new Xunit.Sdk.XunitException($"no '{key}' in the manifest ({string.Join(".", path)})");
        return node;
    }

    private static string S(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value ?? "";

    private static IEnumerable<YamlMappingNode> Seq(YamlNode node, params string[] path) => ((YamlSequenceNode)At(node, path)).Children.Cast<YamlMappingNode>();

    private static YamlMappingNode DaemonSet() => Documents().Single(d => S(d, "kind") == "DaemonSet");

    private static YamlMappingNode Container() => Seq(DaemonSet(), "spec", "template", "spec", "containers").Single();

    private static Dictionary<string, string> Args()
    {
        var args = ((YamlSequenceNode)At(Container(), "args")).Children.Select(n => ((YamlScalarNode)n).Value!).ToList();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i += 2)
        {
            Assert.StartsWith("--", args[i]);
            Assert.True(i + 1 < args.Count, $"{args[i]} has no value");
            options.Add(args[i], args[i + 1]);
        }
        return options;
    }

    [Fact]
    public void The_manifest_has_a_service_account_and_a_daemonset_in_one_namespace()
    {
        var docs = Documents();
        Assert.Equal(["Namespace", "ServiceAccount", "DaemonSet"], docs.Select(d => S(d, "kind")));
        var sa = docs.Single(d => S(d, "kind") == "ServiceAccount");
        var ds = DaemonSet();
        Assert.Equal(S(sa, "metadata", "namespace"), S(ds, "metadata", "namespace"));
        Assert.Equal(S(sa, "metadata", "name"), S(ds, "spec", "template", "spec", "serviceAccountName"));
        Assert.Equal(S(ds, "spec", "selector", "matchLabels", "app.kubernetes.io/name"), S(ds, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"));
        Assert.Equal("true", S(ds, "spec", "template", "spec", "hostNetwork"));
        Assert.Equal("ClusterFirstWithHostNet", S(ds, "spec", "template", "spec", "dnsPolicy"));
        Assert.Equal("true", S(Container(), "securityContext", "privileged"));
        foreach (var kind in new[] { "requests", "limits" })
            Assert.NotEmpty(S(Container(), "resources", kind, "memory"));
        Assert.NotEmpty(S(Container(), "resources", "requests", "cpu"));
    }

    [Fact]
    public void Every_argument_is_an_option_of_kmeshc_serve_and_the_required_ones_are_there()
    {
        var serve = Kmeshc.Program.Root().Subcommands.Single(c => c.Name == "serve");
        var names = serve.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);
        var args = Args();
        foreach (var name in args.Keys) Assert.True(names.Contains(name), $"the DaemonSet passes {name}, which kmeshc serve does not have");
        foreach (var o in serve.Options.Where(o => o.Required)) Assert.Contains(o.Name, args.Keys);
        Assert.Equal("https://istiod.istio-system.svc:15012", args["--xds"]);
        Assert.Equal("$(NODE_NAME)", args["--node"]);
        var env = Seq(Container(), "env").Single(e => S(e, "name") == "NODE_NAME");
        Assert.Equal("spec.nodeName", S(env, "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal(NodeLoader.DefaultPinDir, args["--pin-dir"]);
    }

    [Fact]
    public void The_probes_ask_serve_for_health_and_readiness_where_it_listens()
    {
        var args = Args();
        var metrics = ServeEndpoints.ParseAddress(args.GetValueOrDefault("--metrics", ServeEndpoints.DefaultAddress), out var error);
        Assert.Null(error);
        Assert.Equal(ServeEndpoints.DefaultAddress, args["--metrics"]);
        foreach (var (probe, path) in new[] { ("livenessProbe", ServeEndpoints.HealthPath), ("readinessProbe", ServeEndpoints.ReadyPath) })
        {
            var get = At(Container(), probe, "httpGet");
            Assert.Equal(path, S(get, "path"));
            Assert.Equal(metrics!.Port.ToString(), S(get, "port"));
            Assert.Equal(metrics.Address.ToString(), S(get, "host"));
        }
    }

    [Fact]
    public void The_mounts_hold_bpffs_cgroup_the_token_and_the_ca_the_arguments_name()
    {
        var spec = At(DaemonSet(), "spec", "template", "spec");
        var volumes = Seq(spec, "volumes").ToDictionary(v => S(v, "name"));
        var mounts = Seq(Container(), "volumeMounts").ToDictionary(m => S(m, "mountPath"), m => S(m, "name"));
        foreach (var host in new[] { "/sys/fs/bpf", "/sys/fs/cgroup" })
        {
            Assert.True(mounts.TryGetValue(host, out var name), $"{host} is not mounted");
            Assert.Equal(host, S(volumes[name], "hostPath", "path"));
        }
        Assert.Equal("Bidirectional", S(Seq(Container(), "volumeMounts").Single(m => S(m, "mountPath") == "/sys/fs/bpf"), "mountPropagation"));
        Assert.StartsWith("/sys/fs/bpf/", Args()["--pin-dir"]);

        var args = Args();
        // The token: a projected service-account token for istiod's CA audience, at the path --token names.
        var (tokenMount, tokenVolume) = MountOf(args["--token"], mounts, volumes);
        var token = At(Seq(tokenVolume, "projected", "sources").Single(), "serviceAccountToken");
        Assert.Equal("istio-ca", S(token, "audience"));
        Assert.Equal(args["--token"], tokenMount + "/" + S(token, "path"));
        // The CA: the root certificate istiod publishes in every namespace.
        var (caMount, caVolume) = MountOf(args["--ca"], mounts, volumes);
        Assert.Equal("istio-ca-root-cert", S(caVolume, "configMap", "name"));
        Assert.Equal(args["--ca"], caMount + "/root-cert.pem");
    }

    private static (string MountPath, YamlMappingNode Volume) MountOf(string file, Dictionary<string, string> mounts, Dictionary<string, YamlMappingNode> volumes)
    {
        var m = mounts.Keys.SingleOrDefault(p => file.StartsWith(p + "/", StringComparison.Ordinal)) ?? throw new Xunit.Sdk.XunitException($"{file} is in no mounted volume");
        return (m, volumes[mounts[m]]);
    }

    [Fact]
    public void The_dockerfile_builds_the_programs_and_kmeshc_in_stages_and_runs_kmeshc_serve()
    {
        var lines = File.ReadAllLines(Repo.Path("deploy", "Dockerfile")).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var stages = new List<(string Name, List<string> Lines)>();
        foreach (var l in lines)
        {
            var from = Regex.Match(l, @"^FROM\s+(\S+)\s+AS\s+(\S+)", RegexOptions.IgnoreCase);
            if (from.Success) stages.Add((from.Groups[2].Value, []));
            else if (stages.Count > 0) stages[^1].Lines.Add(l);
        }
        Assert.Equal(["bpf", "build", "runtime"], stages.Select(s => s.Name));
        string Text(string stage) => string.Join("\n", stages.Single(s => s.Name == stage).Lines);
        Assert.Contains("clang", Text("bpf"));
        Assert.Contains("libbpf-dev", Text("bpf"));
        Assert.Matches(@"RUN make", Text("bpf"));
        Assert.Contains("dotnet publish compiler/Kmeshc/Kmeshc.csproj", Text("build"));
        var runtime = Text("runtime");
        Assert.Contains("libbpf1", runtime);
        foreach (Match copy in Regex.Matches(runtime, @"COPY --from=(\S+)")) Assert.Contains(copy.Groups[1].Value, stages.Select(s => s.Name));
        // The programs go beside the binary, where the loader looks for them.
        Assert.Matches(@"COPY --from=bpf /src/bpf/build/ /opt/kmeshc/bpf/", runtime);
        var entry = Regex.Match(runtime, @"^ENTRYPOINT\s+\[(.*)\]\s*$", RegexOptions.Multiline);
        Assert.True(entry.Success, "no ENTRYPOINT in exec form");
        var words = Regex.Matches(entry.Groups[1].Value, "\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["/opt/kmeshc/kmeshc", "serve"], words);
    }
}
