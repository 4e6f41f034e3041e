using System.Collections.Immutable;
using System.Globalization;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Benchmarks;

/// <summary>The shape of a generated multi-tenant cluster (see <see cref="RealisticCluster"/>). Parsed
/// from the command-line switches by <see cref="Parse"/>.</summary>
public sealed record RealisticClusterOptions
{
    /// <summary>Every pod of the cluster, the ingress gateway's and Prometheus's included.</summary>
    public int Pods { get; init; } = 25_000;
    /// <summary>Tenant namespaces (tenant-000 ...); istio-system, istio-ingress and monitoring come on top.</summary>
    public int Namespaces { get; init; } = 1000;
    /// <summary>Nodes; null: one per 200 pods (at least one per zone).</summary>
    public int? Nodes { get; init; }
    public int Zones { get; init; } = 3;
    /// <summary>Every pod and every service has an IPv6 address besides its IPv4 one.</summary>
    public bool DualStack { get; init; }
    /// <summary>Each tenant namespace gets one ALLOW from a namespace glob ("tenant-03*").</summary>
    public bool NamespaceGlobs { get; init; }
    /// <summary>Mesh-wide (istio-system, GLOBAL) policies.</summary>
    public int MeshWide { get; init; } = 12;
    /// <summary>Ports of every tenant Service (1–8): 80→8080, 9090→9090, then others (443→8443,
    /// 50051, 8081, 5432, 6379, 9000) picked at random.</summary>
    public int ServicePorts { get; init; } = 3;
    /// <summary>Pod addresses at random offsets of the node's range (as after churn) instead of packed
    /// from its start.</summary>
    public bool Scattered { get; init; }
    public int Seed { get; init; } = 1;

    public int NodeCount => Nodes ?? Math.Max(Zones, Pods / 200);

    public string Name => string.Create(CultureInfo.InvariantCulture,
        $"p{Pods}-ns{Namespaces}-n{NodeCount}-z{Zones}-m{MeshWide}{(ServicePorts != 3 ? $"-sp{ServicePorts}" : "")}{(DualStack ? "-ds" : "")}{(NamespaceGlobs ? "-globs" : "")}{(Scattered ? "-scattered" : "")}-s{Seed}");

    /// <summary>The generator's switches, for usage lines.</summary>
    public const string Usage = "[--pods N] [--namespaces N] [--nodes N] [--zones N] [--dual-stack] [--ns-globs] [--mesh-wide K] [--service-ports N] [--scattered|--dense] [--seed N]";

    /// <summary>Reads the generator's switches from <paramref name="args"/>; everything else is left in
    /// <paramref name="rest"/> for the caller. Returns null with <paramref name="error"/> set on a bad
    /// value.</summary>
    public static RealisticClusterOptions? Parse(IReadOnlyList<string> args, out List<string> rest, out string? error)
    {
        var o = new RealisticClusterOptions();
        rest = [];
        error = null;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            int Value()
            {
                if (i + 1 >= args.Count || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                    throw new FormatException($"{a} needs a non-negative integer");
                i++;
                return v;
            }
            try
            {
                switch (a)
                {
                    case "--pods": o = o with { Pods = Value() }; break;
                    case "--namespaces": o = o with { Namespaces = Value() }; break;
                    case "--nodes": o = o with { Nodes = Value() }; break;
                    case "--zones": o = o with { Zones = Value() }; break;
                    case "--mesh-wide": o = o with { MeshWide = Value() }; break;
                    case "--service-ports": o = o with { ServicePorts = Value() }; break;
                    case "--seed": o = o with { Seed = Value() }; break;
                    case "--dual-stack": o = o with { DualStack = true }; break;
                    case "--ns-globs": o = o with { NamespaceGlobs = true }; break;
                    case "--scattered": o = o with { Scattered = true }; break;
                    case "--dense": o = o with { Scattered = false }; break;
                    default: rest.Add(a); break;
                }
            }
            catch (FormatException e)
            {
                error = e.Message;
                return null;
            }
        }
        error = o.Check();
        return error is null ? o : null;
    }

    /// <summary>Why the options cannot make a cluster, or null.</summary>
    public string? Check()
    {
        if (Namespaces < 1) return "--namespaces must be at least 1";
        if (Zones < 1) return "--zones must be at least 1";
        if (ServicePorts is < 1 or > 8) return "--service-ports must be 1 to 8";
        if (NodeCount < 1) return "--nodes must be at least 1";
        int tenantPods = Pods - RealisticCluster.InfraPods(Pods);
        if (tenantPods < 2 * Namespaces)
            return $"--pods {Pods} is too few for {Namespaces} namespaces: each needs a Deployment of at least 2 replicas (at least {2 * Namespaces + RealisticCluster.InfraPods(2 * Namespaces)} pods)";
        if ((long)NodeCount * RealisticCluster.NodeRange(this) > 1 << 23)
            return $"--nodes {NodeCount}: the pod range 10.128.0.0/9 holds {(1 << 23) / RealisticCluster.NodeRange(this)} node ranges of {RealisticCluster.NodeRange(this)} addresses";
        return null;
    }
}

/// <summary>A source, destination and port a SYN could carry.</summary>
public readonly record struct Triple(IpAddr Source, IpAddr Destination, uint Port)
{
    public override string ToString() => $"{Source} -> {Destination}:{Port}";
}

/// <summary>A seeded generator of the multi-tenant clusters platform teams run (issue: identities by
/// id), built directly as IR: no YAML, so 300,000 pods take seconds.
///
/// Shape: tenant namespaces tenant-000 ... each holding Deployments of 2–20 replicas (one service
/// account and one Service per app with 3 ports by default, service port → target port), pods spread over the
/// nodes of 3 zones (each node owns a /23 of 10.128.0.0/9 and, dual-stack, a /64 of fd00:10::/48);
/// an ingress gateway (istio-ingress, service account ingress-gateway) and Prometheus (monitoring).
/// Per tenant namespace: ALLOW from the same namespace; ALLOW from the gateway's principal on 8080;
/// ALLOW from the monitoring namespace on 15020 and 9090; 2–5 selector ALLOWs from one app of another
/// namespace by principal; in 30% of namespaces a DENY by ipBlocks; with --ns-globs an ALLOW from a
/// namespace glob. In istio-system, K mesh-wide policies cycling through eight kinds (DENY
/// notPrincipals ["*"], health-check ALLOW by port, Prometheus ALLOW, CIDR DENY, ALLOW from a namespace
/// list, DENY of admin ports, ALLOW by principal prefix, DENY from a namespace glob). The same options
/// always give the same world.</summary>
public static class RealisticCluster
{
    public const string IngressNamespace = "istio-ingress";
    public const string IngressServiceAccount = "ingress-gateway";
    public const string IngressPrincipal = "cluster.local/ns/istio-ingress/sa/ingress-gateway";
    public const string MonitoringNamespace = "monitoring";
    public const string RootNamespace = "istio-system";
    private const string Domain = "cluster.local";

    private static readonly string[] AppNames =
    [
        "api", "web", "worker", "auth", "cart", "catalog", "checkout", "search", "payments", "orders",
        "users", "inventory", "notify", "billing", "reports", "frontend", "cache", "events", "media", "profile",
    ];

    /// <summary>Ports every app serves (service port → target port), then the pool the others come from.</summary>
    private static readonly ServicePort[] CommonPorts = [new(80, 8080, AppProtocol.Http11), new(9090, 9090, AppProtocol.Http11)];
    private static readonly ServicePort[] PortPool =
    [
        new(443, 8443, AppProtocol.Tls), new(50051, 50051, AppProtocol.Grpc), new(8081, 8081, AppProtocol.Http11),
        new(5432, 5432, AppProtocol.Tcp), new(6379, 6379, AppProtocol.Tcp), new(9000, 9000, AppProtocol.Http2),
    ];

    /// <summary>Ingress gateway pods plus two Prometheus pods.</summary>
    public static int InfraPods(int pods) => GatewayPods(pods) + 2;

    private static int GatewayPods(int pods) => Math.Max(2, pods / 20_000);

    /// <summary>Addresses in each node's IPv4 range: 512 (a /23) unless the average node holds more than
    /// 200 pods, then the power of two holding 2.5 times the average.</summary>
    public static int NodeRange(RealisticClusterOptions o)
    {
        int bits = 9;
        double avg = (double)o.Pods / Math.Max(1, o.NodeCount);
        while ((1 << bits) - 2 < avg * 2.5) bits++;
        return 1 << bits;
    }

    public static string TenantNamespace(int n, int namespaces) =>
        "tenant-" + n.ToString(namespaces <= 1000 ? "D3" : "D" + (namespaces - 1).ToString(CultureInfo.InvariantCulture).Length, CultureInfo.InvariantCulture);

    private sealed record App(string Namespace, string Name, int Replicas, ImmutableArray<ServicePort> Ports)
    {
        public string ServiceKey => $"{Namespace}/{Name}.{Namespace}.svc.{Domain}";
        public string Principal => $"{Domain}/ns/{Namespace}/sa/{Name}";
        public List<string> Policies { get; } = [];
    }

    public static World Generate(RealisticClusterOptions o)
    {
        if (o.Check() is { } error) throw new ArgumentException(error);
        var rng = new Random(o.Seed);
        var none = SourceLocation.None;
        int nodeCount = o.NodeCount, range = NodeRange(o);

        // Nodes, zone by zone round-robin.
        var nodes = new Node[nodeCount];
        var byZone = new List<int>[o.Zones];
        for (int z = 0; z < o.Zones; z++) byZone[z] = [];
        for (int n = 0; n < nodeCount; n++)
        {
            int z = n % o.Zones;
            nodes[n] = new Node(NodeName(n), new Locality("region-1", $"zone-{(char)('a' + z % 26)}{(z >= 26 ? z / 26 : "")}", ""), "", none);
            byZone[z].Add(n);
        }

        // Apps: the tenants' pods split evenly over namespaces, each namespace into Deployments of 2–20.
        int tenantPods = o.Pods - InfraPods(o.Pods);
        var apps = new List<App>();
        var appsOf = new List<App>[o.Namespaces];
        for (int ns = 0; ns < o.Namespaces; ns++)
        {
            string nsName = TenantNamespace(ns, o.Namespaces);
            appsOf[ns] = [];
            int remaining = tenantPods / o.Namespaces + (ns < tenantPods % o.Namespaces ? 1 : 0);
            for (int k = 0; remaining > 0; k++)
            {
                // 2-20 replicas, and never a remainder of one pod: 21 left become 19 + 2.
                int r = rng.Next(2, 21);
                if (remaining - r < 2) r = remaining <= 20 ? remaining : remaining - 2;
                remaining -= r;
                var ports = ImmutableArray.CreateBuilder<ServicePort>(o.ServicePorts);
                ports.AddRange(CommonPorts.Take(o.ServicePorts));
                int first = rng.Next(PortPool.Length);
                for (int e = 0; e < o.ServicePorts - CommonPorts.Length; e++) ports.Add(PortPool[(first + e) % PortPool.Length]);
                var app = new App(nsName, $"{AppNames[k % AppNames.Length]}-{k / AppNames.Length}", r, ports.ToImmutable());
                apps.Add(app);
                appsOf[ns].Add(app);
            }
        }
        var gateway = new App(IngressNamespace, IngressServiceAccount, GatewayPods(o.Pods),
            [new(80, 8080, AppProtocol.Http11), new(443, 8443, AppProtocol.Tls), new(15021, 15021, AppProtocol.Http11)]);
        var prometheus = new App(MonitoringNamespace, "prometheus", 2,
            [new(9090, 9090, AppProtocol.Http11), new(9091, 9091, AppProtocol.Http11), new(8080, 8080, AppProtocol.Http11)]);

        // Policies (they attach selector policies to apps, so before the pods).
        var policies = new List<Policy>();
        for (int ns = 0; ns < o.Namespaces; ns++) TenantPolicies(o, rng, ns, appsOf, policies);
        for (int i = 0; i < o.MeshWide; i++) policies.Add(MeshWidePolicy(o, rng, i));

        // Pods and services.
        var used = o.Scattered ? new bool[(long)nodeCount * range] : null;
        var next = new int[nodeCount];
        var workloads = new List<Workload>(o.Pods);
        var services = new List<Service>(apps.Count + 2);
        int serviceIndex = 0;
        foreach (var app in apps.Append(gateway).Append(prometheus))
        {
            uint vip = 0x0A600000u + (uint)++serviceIndex; // 10.96.0.0/12
            var vips = ImmutableArray.CreateBuilder<NetworkAddress>();
            vips.Add(new NetworkAddress("", IpAddr.V4(vip)));
            if (o.DualStack) vips.Add(new NetworkAddress("", new IpAddr(((UInt128)0xfd00_0096_0000_0000ul << 64) | (uint)serviceIndex, true)));
            var lb = (serviceIndex % 8) switch
            {
                0 or 1 => new LoadBalancing([LbScope.Network, LbScope.Region, LbScope.Zone], LbMode.Failover, HealthPolicy.OnlyHealthy),
                2 => new LoadBalancing([LbScope.Node], LbMode.Strict, HealthPolicy.OnlyHealthy),
                _ => LoadBalancing.Default,
            };
            string hostname = $"{app.Name}.{app.Namespace}.svc.{Domain}";
            services.Add(new Service(app.Name, app.Namespace, hostname, vips.ToImmutable(), app.Ports, lb, none));
            ImmutableArray<WorkloadServicePorts> svc = [new WorkloadServicePorts(app.ServiceKey, app.Ports)];
            ImmutableArray<string> attached = [.. app.Policies.Order(StringComparer.Ordinal)];
            string rs = Suffix(rng, 10);
            int zone0 = rng.Next(o.Zones);
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (int r = 0; r < app.Replicas; r++)
            {
                var zoneNodes = byZone[(zone0 + r) % o.Zones];
                int n = zoneNodes.Count > 0 ? zoneNodes[rng.Next(zoneNodes.Count)] : rng.Next(nodeCount);
                int offset = Offset(rng, used, next, n, range);
                var addrs = ImmutableArray.CreateBuilder<IpAddr>(o.DualStack ? 2 : 1);
                addrs.Add(IpAddr.V4(0x0A800000u + (uint)(n * range + offset))); // 10.128.0.0/9
                if (o.DualStack)
                {
                    ulong iid = o.Scattered ? (ulong)rng.NextInt64(1, long.MaxValue) : (ulong)offset;
                    addrs.Add(new IpAddr(((UInt128)(0xfd00_0010_0000_0000ul | (uint)n) << 64) | iid, true));
                }
                string name;
                do name = $"{app.Name}-{rs}-{Suffix(rng, 5)}"; while (!names.Add(name));
                workloads.Add(new Workload($"Kubernetes//Pod/{app.Namespace}/{name}", name, app.Namespace, app.Name, Domain,
                    addrs.MoveToImmutable(), nodes[n].Name, "", Workload.DefaultClusterId, nodes[n].Locality,
                    rng.Next(50) == 0 ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy, 1, svc, attached, none));
            }
        }

        var namespaces = Enumerable.Range(0, o.Namespaces).Select(n => TenantNamespace(n, o.Namespaces))
            .Concat(o.MeshWide > 0 ? [IngressNamespace, MonitoringNamespace, RootNamespace] : [IngressNamespace, MonitoringNamespace])
            .Select(n => new Namespace(n, none));
        // Nodes with no pod are left out: a snapshot names nodes only through its workloads.
        var withPods = workloads.Select(w => w.Node).ToHashSet(StringComparer.Ordinal);
        return new World([.. namespaces], [.. nodes.Where(n => withPods.Contains(n.Name))], [.. workloads], [.. services], [.. policies]).Canonical();
    }

    private static string NodeName(int n) => "node-" + n.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>A free offset in the node's range: the next one (dense), or a random free one (scattered).</summary>
    private static int Offset(Random rng, bool[]? used, int[] next, int node, int range)
    {
        if (used is null)
        {
            if (next[node] >= range - 2) throw new ArgumentException($"{NodeName(node)} would hold more than {range - 2} pods: raise --nodes");
            return ++next[node];
        }
        if (++next[node] > (range - 2) * 3 / 4) throw new ArgumentException($"{NodeName(node)} would hold more than {(range - 2) * 3 / 4} pods (scattered over {range - 2} addresses): raise --nodes");
        long b = (long)node * range;
        while (true)
        {
            int off = 1 + rng.Next(range - 2);
            if (!used![b + off]) { used[b + off] = true; return off; }
        }
    }

    private static string Suffix(Random rng, int length)
    {
        const string chars = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(length, rng, (span, r) => { for (int i = 0; i < span.Length; i++) span[i] = chars[r.Next(chars.Length)]; });
    }

    private static Match M => Match.Empty(SourceLocation.None);

    private static Clause C(Match m) => new([m], SourceLocation.None);

    private static Clause Ports(params uint[] ports) => C(M with { DestinationPorts = [.. ports] });

    private static StringMatch Exact(string s) => new(StringMatchKind.Exact, s);

    private static StringMatch Glob(string s) => s == "*" ? new(StringMatchKind.Presence, "")
        : s.EndsWith('*') ? new(StringMatchKind.Prefix, s[..^1]) : s.StartsWith('*') ? new(StringMatchKind.Suffix, s[1..]) : Exact(s);

    private static Policy P(string ns, string name, PolicyScope scope, PolicyAction action, params Clause[][] rules) =>
        new(name, ns, scope, action, false, [.. rules.Select(r => new Rule([.. r], SourceLocation.None))], SourceLocation.None);

    private static void TenantPolicies(RealisticClusterOptions o, Random rng, int ns, List<App>[] appsOf, List<Policy> policies)
    {
        string name = TenantNamespace(ns, o.Namespaces);
        var ns0 = PolicyScope.Namespace;
        policies.Add(P(name, "allow-same-namespace", ns0, PolicyAction.Allow, [C(M with { Namespaces = [Exact(name)] })]));
        policies.Add(P(name, "allow-ingress", ns0, PolicyAction.Allow, [C(M with { Principals = [Exact(IngressPrincipal)] }), Ports(8080)]));
        policies.Add(P(name, "allow-monitoring", ns0, PolicyAction.Allow, [C(M with { Namespaces = [Exact(MonitoringNamespace)] }), Ports(15020, 9090)]));
        int peers = rng.Next(2, 6);
        for (int i = 0; i < peers && o.Namespaces > 1; i++)
        {
            int other = rng.Next(o.Namespaces - 1);
            if (other >= ns) other++;
            var client = appsOf[other][rng.Next(appsOf[other].Count)];
            var server = appsOf[ns][rng.Next(appsOf[ns].Count)];
            string pname = $"allow-{client.Namespace}-{client.Name}-to-{server.Name}";
            if (server.Policies.Contains($"{name}/{pname}")) continue;
            var port = server.Ports[rng.Next(server.Ports.Length)].TargetPort;
            policies.Add(P(name, pname, PolicyScope.WorkloadSelector, PolicyAction.Allow,
                [C(M with { Principals = [Exact(client.Principal)] }), Ports(port)]));
            server.Policies.Add($"{name}/{pname}");
        }
        if (rng.Next(10) < 3)
        {
            var blocks = new List<IpPrefix>();
            int count = 1 + rng.Next(3);
            for (int i = 0; i < count; i++) blocks.Add(PublicV4(rng));
            if (o.DualStack) blocks.Add(PublicV6(rng));
            policies.Add(P(name, "deny-blocked-ranges", ns0, PolicyAction.Deny, [C(M with { SourceIps = [.. blocks] })]));
        }
        if (o.NamespaceGlobs)
        {
            string other = TenantNamespace(rng.Next(o.Namespaces), o.Namespaces);
            policies.Add(P(name, "allow-tenant-group", ns0, PolicyAction.Allow,
                [C(M with { Namespaces = [Glob(other[..^1] + "*")] }), Ports(8080)]));
        }
    }

    private static IpPrefix PublicV4(Random rng)
    {
        int len = rng.Next(2) == 0 ? 16 : 24;
        uint a = ((uint)(100 + rng.Next(100)) << 24) | ((uint)rng.Next(256) << 16) | ((uint)rng.Next(256) << 8);
        return new IpPrefix(new IpPrefix(IpAddr.V4(a), len).Network, len);
    }

    private static IpPrefix PublicV6(Random rng) =>
        new(new IpAddr((UInt128)(0x2001_0db8_0000_0000ul | ((ulong)rng.Next(65536) << 16)) << 64, true), 48);

    /// <summary>Mesh-wide policy <paramref name="i"/>: eight kinds in turn, each later round with other
    /// ports, ranges and namespaces, so no two are the same.</summary>
    private static Policy MeshWidePolicy(RealisticClusterOptions o, Random rng, int i)
    {
        int round = i / 8;
        uint u = (uint)round;
        var g = PolicyScope.Global;
        string n = i.ToString("D3", CultureInfo.InvariantCulture);
        string Tenant() => TenantNamespace(rng.Next(o.Namespaces), o.Namespaces);
        return (i % 8) switch
        {
            0 => round == 0
                ? P(RootNamespace, $"mesh-{n}-deny-unauthenticated", g, PolicyAction.Deny, [C(M with { NotPrincipals = [Glob("*")] })])
                : P(RootNamespace, $"mesh-{n}-deny-unauthenticated-{20000 + u}", g, PolicyAction.Deny, [C(M with { NotPrincipals = [Glob("*")] }), Ports(20000 + u)]),
            1 => P(RootNamespace, $"mesh-{n}-allow-health-checks", g, PolicyAction.Allow,
                [C(M with { SourceIps = o.DualStack ? [IpPrefix.Parse("169.254.7.127/32"), IpPrefix.Parse("fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128")] : [IpPrefix.Parse("169.254.7.127/32")] }), round == 0 ? Ports(15021) : Ports(15021, 15120 + u)]),
            2 => P(RootNamespace, $"mesh-{n}-allow-prometheus", g, PolicyAction.Allow,
                [C(M with { Namespaces = [Exact(MonitoringNamespace)] }), Ports(15020, 15090 + u)]),
            3 => P(RootNamespace, $"mesh-{n}-deny-cidrs", g, PolicyAction.Deny,
                [C(M with { SourceIps = o.DualStack ? [PublicV4(rng), PublicV4(rng), PublicV6(rng)] : [PublicV4(rng), PublicV4(rng)] })]),
            4 => P(RootNamespace, $"mesh-{n}-allow-platform-namespaces", g, PolicyAction.Allow,
                [C(M with { Namespaces = [Exact(RootNamespace), Exact(IngressNamespace), Exact(MonitoringNamespace), Exact(Tenant()), Exact(Tenant())] }), Ports(15008 + u * 3)]),
            5 => P(RootNamespace, $"mesh-{n}-deny-admin-ports", g, PolicyAction.Deny, [Ports(22, 2375 + u)]),
            6 => P(RootNamespace, $"mesh-{n}-allow-control-plane", g, PolicyAction.Allow,
                [C(M with { Principals = [Glob($"{Domain}/ns/{RootNamespace}/*")] }), Ports(15012 + u * 3)]),
            _ => P(RootNamespace, $"mesh-{n}-deny-tenant-group", g, PolicyAction.Deny,
                [C(M with { Namespaces = [Glob(Tenant()[..^1] + "*")] }), Ports(5432 + u)]),
        };
    }

    /// <summary>The node with the most local (enforced) workloads; ties broken by the number of distinct
    /// policies that apply to them, then by name.</summary>
    public static string BusiestNode(World world)
    {
        var namespacePolicies = world.Policies.Where(p => p.Scope == PolicyScope.Namespace).GroupBy(p => p.Namespace)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return world.Workloads.Where(w => !w.IsTemplate && w.Enforced && w.Node.Length > 0).GroupBy(w => w.Node)
            .Select(g => (Node: g.Key, Count: g.Count(),
                Policies: g.Select(w => w.Namespace).Distinct().Sum(ns => namespacePolicies.GetValueOrDefault(ns)) +
                          g.SelectMany(w => w.AuthorizationPolicies).Distinct().Count()))
            .OrderByDescending(x => x.Count).ThenByDescending(x => x.Policies).ThenBy(x => x.Node, StringComparer.Ordinal)
            .First().Node;
    }

    /// <summary>A seeded sample of SYNs to <paramref name="node"/>'s workloads. Destinations: a local
    /// enforced workload's address (either family). Sources, of the destination's family: 40% a workload
    /// of the destination's namespace, 15% an ingress gateway pod, 10% a Prometheus pod, 30% any
    /// workload, 5% an address no workload has. Ports: 90% one of the destination's target ports,
    /// 10% another (15020, 15021, 22, 3306 or a random high port).</summary>
    public static ImmutableArray<Triple> SampleTriples(World world, string node, int count, int seed)
    {
        var rng = new Random(seed);
        var local = world.Workloads.Where(w => w.Node == node && w.Enforced && !w.IsTemplate && !w.Addresses.IsEmpty).ToList();
        if (local.Count == 0) return [];
        var all = world.Workloads.Where(w => !w.IsTemplate && w.LendsIdentity && !w.Addresses.IsEmpty).ToList();
        var byNs = all.GroupBy(w => w.Namespace).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var gateways = byNs.GetValueOrDefault(IngressNamespace) ?? all;
        var prometheus = byNs.GetValueOrDefault(MonitoringNamespace) ?? all;
        uint[] others = [15020, 15021, 22, 3306];
        var result = ImmutableArray.CreateBuilder<Triple>(count);
        while (result.Count < count)
        {
            var dw = local[rng.Next(local.Count)];
            var dst = dw.Addresses[rng.Next(dw.Addresses.Length)];
            int kind = rng.Next(100);
            var pool = kind < 40 ? byNs[dw.Namespace] : kind < 55 ? gateways : kind < 65 ? prometheus : all;
            IpAddr src;
            if (kind >= 95)
                src = dst.IsV6 ? new IpAddr(((UInt128)0x2001_0db8_ffff_0000ul << 64) | (uint)rng.Next(), true) : IpAddr.V4(0xC0000200u | (uint)rng.Next(256));
            else
            {
                var sw = pool[rng.Next(pool.Count)];
                var same = sw.Addresses.Where(a => a.IsV6 == dst.IsV6).ToList();
                if (same.Count == 0) continue;
                src = same[rng.Next(same.Count)];
            }
            var targets = dw.Services.SelectMany(s => s.Ports).Select(p => p.TargetPort).Where(p => p != 0).Distinct().ToList();
            uint port = targets.Count > 0 && rng.Next(10) != 0 ? targets[rng.Next(targets.Count)]
                : rng.Next(5) == 0 ? (uint)(30000 + rng.Next(30000)) : others[rng.Next(others.Length)];
            result.Add(new Triple(src, dst, port));
        }
        return result.MoveToImmutable();
    }

    /// <summary>The world as a binary xDS snapshot (what <c>kmeshc compile FILE</c> reads).</summary>
    public static void WriteSnapshot(World world, string path) => File.WriteAllBytes(path, SnapshotWriter.Write(world, SnapshotFormat.Binary));
}
