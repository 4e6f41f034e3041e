using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;
using static KmeshCompiler.Tests.Kubernetes.Kube;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>semantics.md §1 and §4: pods, nodes, namespaces and services become the world.</summary>
public class WorldTests
{
    private const string Nodes = """
        apiVersion: v1
        kind: Node
        metadata:
          name: n1
          labels:
            topology.kubernetes.io/region: r1
            topology.kubernetes.io/zone: z1
            topology.istio.io/subzone: s1
            topology.istio.io/network: net-node
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels:
            topology.istio.io/network: net-ns
        ---

        """;

    [Fact]
    public void Pod_becomes_a_workload()
    {
        var (w, bag) = Build(Nodes + """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-0
              namespace: shop
              labels: {app: web}
            spec:
              serviceAccountName: web-sa
              nodeName: n1
            status:
              podIP: 10.0.0.1
              podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]
              conditions:
              - type: Ready
                status: "True"
            """, new FrontendSettings(TrustDomain: "example.org", ClusterId: "c1"));
        Clean(bag);
        var wl = Assert.Single(w.Workloads);
        Assert.Equal("c1//Pod/shop/web-0", wl.Uid);
        Assert.Equal(("web-0", "shop", "web-sa", "example.org", "n1", "c1"), (wl.Name, wl.Namespace, wl.ServiceAccount, wl.TrustDomain, wl.Node, wl.ClusterId));
        Eq(wl.Addresses, IpAddr.Parse("10.0.0.1"), IpAddr.Parse("fd00::1"));
        Assert.Equal("net-ns", wl.Network);
        Assert.Equal(new Locality("r1", "z1", "s1"), wl.Locality);
        Assert.Equal(WorkloadHealth.Healthy, wl.Health);
        Assert.Equal(1u, wl.Capacity);
        Assert.Equal("example.org/ns/shop/sa/web-sa", wl.Identity.ToString());
        var node = Assert.Single(w.Nodes);
        Assert.Equal("net-node", node.Network);
    }

    [Fact]
    public void Pod_defaults_and_network_label_on_the_pod()
    {
        var (w, bag) = Build(Nodes + """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-0
              namespace: shop
              labels: {topology.istio.io/network: net-pod}
            spec:
              nodeName: n1
            status:
              podIP: 10.0.0.1
              conditions: [{type: Ready, status: "False"}]
            """);
        Clean(bag);
        var wl = Assert.Single(w.Workloads);
        Assert.Equal("default", wl.ServiceAccount);
        Assert.Equal("cluster.local", wl.TrustDomain);
        Assert.Equal("Kubernetes//Pod/shop/web-0", wl.Uid);
        Assert.Equal("net-pod", wl.Network);
        Assert.Equal(WorkloadHealth.Unhealthy, wl.Health);
    }

    [Fact]
    public void Pod_without_namespace_label_has_empty_network_and_unknown_node_has_empty_locality()
    {
        var (w, bag) = Build(Nodes + TranslationTests.Pod("p", "default", "app: x", "10.0.0.9", node: "n9"));
        var wl = Assert.Single(w.Workloads);
        Assert.Equal("", wl.Network);
        Assert.Equal(Locality.Empty, wl.Locality);
        Has(bag, Codes.UnknownNode, 17 + 9, 13);
    }

    [Fact]
    public void Terminal_pods_build_no_workload()
    {
        var (w, bag) = Build("apiVersion: v1\nkind: Pod\nmetadata:\n  name: job\nstatus:\n  phase: Succeeded\n  podIP: 10.0.0.1\n");
        Assert.Empty(w.Workloads);
        Has(bag, Codes.TerminalPod, 6, 10);
    }

    private const string ServiceWorld = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-0
          namespace: shop
          labels: {app: web}
        spec:
          containers:
          - name: web
            ports:
            - {name: http, containerPort: 8080}
            - {name: metrics, containerPort: 9090}
        status:
          podIP: 10.0.0.1
          conditions: [{type: Ready, status: "True"}]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1
          namespace: shop
          labels: {app: web}
        spec:
          containers:
          - name: web
            ports:
            - {name: http, containerPort: 8081}
        status:
          podIP: 10.0.0.2
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: other
          namespace: elsewhere
          labels: {app: web}
        status:
          podIP: 10.0.0.3
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
        spec:
          selector: {app: web}
          clusterIP: 10.96.0.1
          clusterIPs: [10.96.0.1, "fd00::10"]
          ports:
          - {name: http, port: 80, targetPort: http}
          - {name: metrics, port: 9090, targetPort: metrics}
          - {name: grpc-api, port: 5000, targetPort: 5001}
          - {name: plain, port: 7000}

        """;

    [Fact]
    public void Service_ports_and_endpoints()
    {
        var (w, bag) = Build(ServiceWorld);
        Assert.False(bag.HasErrors, Dump(bag));
        var svc = Assert.Single(w.Services);
        Assert.Equal(("web", "shop", "web.shop.svc.cluster.local", "shop/web.shop.svc.cluster.local"), (svc.Name, svc.Namespace, svc.Hostname, svc.Key));
        Eq(svc.Addresses.Select(a => a.Address.ToString()), "10.96.0.1", "fd00::10");
        Eq(svc.Ports, new ServicePort(80, 0, AppProtocol.Http11), new ServicePort(9090, 0), new ServicePort(5000, 5001, AppProtocol.Grpc), new ServicePort(7000, 7000));

        var web0 = Workload(w, "web-0").Services.Single();
        Assert.Equal("shop/web.shop.svc.cluster.local", web0.ServiceKey);
        Eq(web0.Ports, new ServicePort(80, 8080, AppProtocol.Http11), new ServicePort(9090, 9090), new ServicePort(5000, 5001, AppProtocol.Grpc), new ServicePort(7000, 7000));
        // web-1 has no "metrics" port: that port is left out for it, with a warning on the service port.
        Eq(Workload(w, "web-1").Services.Single().Ports, new ServicePort(80, 8081, AppProtocol.Http11), new ServicePort(5000, 5001, AppProtocol.Grpc), new ServicePort(7000, 7000));
        var d = Has(bag, Codes.NamedPortUnresolved, 51, 5);
        Assert.Contains("web-1", d.Message);
        // The selector only reaches the service's own namespace.
        Assert.Empty(Workload(w, "other").Services);
    }

    [Theory]
    [InlineData("internalTrafficPolicy: Local", "", "Node", LbMode.Strict)]
    [InlineData("trafficDistribution: PreferClose", "", "Network,Region,Zone", LbMode.Failover)]
    [InlineData("trafficDistribution: PreferSameZone", "", "Network,Region,Zone", LbMode.Failover)]
    [InlineData("trafficDistribution: PreferSameNode", "", "Network,Region,Zone,Subzone,Node", LbMode.Failover)]
    [InlineData("internalTrafficPolicy: Local\n  trafficDistribution: PreferClose", "", "Node", LbMode.Strict)]
    [InlineData("internalTrafficPolicy: Cluster", "", "", LbMode.Unspecified)]
    [InlineData("", "PreferClose", "Network,Region,Zone", LbMode.Failover)]
    [InlineData("", "prefersamenode", "Network,Region,Zone,Subzone,Node", LbMode.Failover)]
    [InlineData("trafficDistribution: PreferSameNode", "PreferClose", "Network,Region,Zone,Subzone,Node", LbMode.Failover)]
    [InlineData("", "", "", LbMode.Unspecified)]
    public void Load_balancing_from_service_fields(string specLine, string annotation, string scopes, LbMode mode)
    {
        string ann = annotation.Length > 0 ? $"  annotations:\n    networking.istio.io/traffic-distribution: {annotation}\n" : "";
        var (w, bag) = Build($"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n{ann}spec:\n  {specLine}\n  ports: [{{port: 80}}]\n");
        Assert.False(bag.HasErrors, Dump(bag));
        var lb = Assert.Single(w.Services).LoadBalancing;
        Assert.Equal(scopes, string.Join(',', lb.RoutingPreference));
        Assert.Equal(mode, lb.Mode);
        Assert.Equal(HealthPolicy.OnlyHealthy, lb.HealthPolicy);
    }

    [Fact]
    public void Namespace_annotation_gives_the_traffic_distribution()
    {
        var (w, bag) = Build("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    networking.istio.io/traffic-distribution: PreferClose\n---\n" +
                             "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: shop\nspec:\n  publishNotReadyAddresses: true\n  ports: [{port: 80}]\n");
        Clean(bag);
        var lb = Assert.Single(w.Services).LoadBalancing;
        Assert.Equal(LbMode.Failover, lb.Mode);
        Assert.Equal(HealthPolicy.AllowAll, lb.HealthPolicy);
    }

    [Fact]
    public void Unknown_annotation_value_is_a_warning_and_bad_spec_values_are_errors()
    {
        var (_, bag) = Build("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    networking.istio.io/traffic-distribution: Nearby\nspec:\n  ports: [{port: 80}]\n");
        Has(bag, Codes.UnknownTrafficAnnotation, 6, 47);
        (_, bag) = Build("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  trafficDistribution: Nearby\n  internalTrafficPolicy: local\n");
        Has(bag, Codes.BadTrafficDistribution, 6, 24);
        Has(bag, Codes.BadInternalTrafficPolicy, 7, 26);
    }

    [Fact]
    public void Multi_document_list_json_and_skipped_kinds()
    {
        string list = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Namespace
              metadata: {name: a}
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: cm, namespace: a}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: b}
            """;
        string json = """{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"c"},"status":{"podIP":"10.1.1.1"}}]}""";
        var (w, bag) = Build([new SourceText("a.yaml", Encoding.UTF8.GetBytes(list)), new SourceText("b.json", Encoding.UTF8.GetBytes(json))]);
        Assert.False(bag.HasErrors, Dump(bag));
        Eq(w.Namespaces.Select(n => n.Name), "a", "b", "c");
        Assert.Single(w.Workloads);
        var skipped = Assert.Single(bag.Items, d => d.Code == Codes.SkippedKind.Code);
        Assert.Equal(new SourceLocation("a.yaml", 7, 3), skipped.Location);
        Assert.Equal(Severity.Info, skipped.Severity);
    }

    [Fact]
    public void Stdin_is_read_and_named_in_locations()
    {
        var bytes = Encoding.UTF8.GetBytes(Policy("  action: REJECT\n"));
        var res = InputLoader.Load(["-"], FrontendSettings.Default, () => new MemoryStream(bytes));
        var d = Assert.Single(res.Diagnostics.Items, x => x.Code == Codes.UnknownAction.Code);
        Assert.Equal(new SourceLocation("<stdin>", 7, 11), d.Location);
    }

    [Fact]
    public void Later_kinds_are_skipped_with_info()
    {
        var (_, bag) = Build("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x}\nspec: {mtls: {mode: STRICT}}\n");
        Assert.False(bag.HasErrors);
        Has(bag, Codes.UnsupportedKind, 1, 1);
    }

    [Fact]
    public void Objects_defined_twice_are_errors()
    {
        string p = Policy("  {}\n");
        var (_, bag) = Build(p + "---\n" + p);
        Has(bag, Codes.DuplicateObject, 9, 1);
    }

    [Fact]
    public void Bookinfo_example_builds_clean()
    {
        var sources = Directory.GetFiles(Repo.Path("examples", "bookinfo"), "*.yaml").Order(StringComparer.Ordinal)
            .Select(f => new SourceText(f, File.ReadAllBytes(f))).ToList();
        var (w, bag) = Build(sources);
        Assert.False(bag.HasErrors, Dump(bag));
        Assert.Equal(8, w.Workloads.Length);
        Assert.Equal(5, w.Services.Length);
        Assert.Equal(5, w.Policies.Length); // the dry-run policy is excluded without --enable-dry-run
        Assert.Contains(w.Policies, p => p.Scope == PolicyScope.Global);
        Assert.Contains("bookinfo/reviews-from-productpage", w.Workloads.Single(x => x.Name.StartsWith("reviews-v3")).AuthorizationPolicies);
        Assert.Equal(2, w.Workloads.Single(x => x.Name.StartsWith("reviews-v3")).Addresses.Length);
        Assert.Equal(WorkloadHealth.Unhealthy, w.Workloads.Single(x => x.Name.StartsWith("reviews-v1")).Health);
        var (w2, _) = Build(sources, new FrontendSettings(EnableDryRun: true));
        Assert.True(w2.Policies.Single(p => p.Name == "deny-curl-dry-run").DryRun);
    }
}
