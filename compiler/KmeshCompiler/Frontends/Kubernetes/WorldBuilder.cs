using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Assembles the world from the models: workloads from pods, services with their endpoints,
/// selector policies attached to workloads (what istiod sends as Workload.authorization_policies), and
/// the lints that need the whole world. Selectors are resolved through a (namespace, label) index, so
/// the cost grows with the number of matches, not pods × selectors.</summary>
internal sealed class WorldBuilder(ObjectParser o, FrontendSettings settings, DiagnosticBag bag)
{
    private readonly Dictionary<(string Ns, string Key, string Value), List<int>> _byNsLabel = new();
    private readonly Dictionary<(string Key, string Value), List<int>> _byLabel = new();
    private readonly Dictionary<string, List<int>> _byNs = new(StringComparer.Ordinal);
    private List<PodModel> _pods = [];

    // Runs once per compile over every pod: compile it optimized from the start rather than tiering up.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public World Build()
    {
        var namespaces = Unique(o.Namespaces, x => x.Name, x => x.Location, "namespace");
        var nodes = Unique(o.Nodes, x => x.Name, x => x.Location, "node");
        _pods = Unique(o.Pods, x => x.UniqueKey, x => x.Location, "pod").Values.ToList();
        var services = Unique(o.Services, x => $"{x.Namespace}/{x.Name}", x => x.Location, "service").Values.ToList();
        var policies = Unique(o.Policies, x => x.Policy.Key, x => x.Policy.Location, "policy").Values.ToList();
        IndexPods();

        var podServices = new List<WorkloadServicePorts>?[_pods.Count];
        var podPolicies = new List<string>?[_pods.Count];

        // Services and their endpoints.
        var irServices = new List<Service>(services.Count);
        foreach (var s in services)
        {
            string hostname = s.Hostname();
            string key = $"{s.Namespace}/{hostname}";
            irServices.Add(new Service(s.Name, s.Namespace, hostname,
                [.. s.ClusterIps.Select(ip => new NetworkAddress("", ip))],
                [.. s.Ports.Select(p => new ServicePort(p.Port, p.TargetName is null ? p.TargetNumber : 0, p.AppProtocol))],
                LoadBalancingOf(s, namespaces.GetValueOrDefault(s.Namespace)), s.Location));
            if (s.Selector is null) continue;
            var unresolved = new Dictionary<ServicePortModel, (string FirstPod, int Count)>();
            foreach (int i in Select(s.Selector, s.Namespace))
            {
                var pod = _pods[i];
                var ports = ImmutableArray.CreateBuilder<ServicePort>(s.Ports.Length);
                foreach (var p in s.Ports)
                {
                    if (p.TargetName is null) { ports.Add(new ServicePort(p.Port, p.TargetNumber, p.AppProtocol)); continue; }
                    var cp = pod.Ports.FirstOrDefault(c => c.Name == p.TargetName);
                    if (cp is not null) ports.Add(new ServicePort(p.Port, cp.Port, p.AppProtocol));
                    else unresolved[p] = unresolved.TryGetValue(p, out var u) ? (u.FirstPod, u.Count + 1) : (pod.Kind == Workload.PodKind ? pod.Name : pod.Display, 1);
                }
                (podServices[i] ??= []).Add(new WorkloadServicePorts(key, ports.ToImmutable()));
            }
            foreach (var (p, (first, count)) in unresolved)
                bag.Add(Codes.NamedPortUnresolved.CreateFor($"Service {s.Namespace}/{s.Name}", p.Location, p.Port, p.TargetName,
                    count > 1 ? $"pod '{first}' and {count - 1} more pods do" : $"pod '{first}' does"));
        }

        // Selector policies attach to workloads; root-namespace selectors reach every namespace.
        foreach (var pm in policies)
        {
            if (pm.MatchLabels is not { Pairs.IsEmpty: false } sel) continue;
            string? ns = pm.Policy.Namespace == settings.RootNamespace ? null : pm.Policy.Namespace;
            foreach (int i in Select(sel, ns)) (podPolicies[i] ??= []).Add(pm.Policy.Key);
        }

        // Workloads.
        var workloads = new List<Workload>(_pods.Count);
        bool nodesKnown = nodes.Count > 0;
        var enrolment = new Enrolment(namespaces.Values, _pods);
        for (int i = 0; i < _pods.Count; i++)
        {
            var p = _pods[i];
            var node = nodes.GetValueOrDefault(p.NodeName);
            if (node is null && nodesKnown && p.NodeName.Length > 0)
                bag.Add(Codes.UnknownNode.CreateFor($"Pod {p.Namespace}/{p.Name}", p.NodeNameLocation, $"{p.Namespace}/{p.Name}", p.NodeName));
            string network = p.Labels.Get(ObjectParser.NetworkLabel)
                ?? namespaces.GetValueOrDefault(p.Namespace)?.Labels.Get(ObjectParser.NetworkLabel) ?? "";
            var svcs = podServices[i] is { } ps ? ps.OrderBy(x => x.ServiceKey, StringComparer.Ordinal).ToImmutableArray() : [];
            var pols = podPolicies[i] is { } pp ? pp.Distinct().OrderBy(x => x, StringComparer.Ordinal).ToImmutableArray() : [];
            workloads.Add(new Workload($"{settings.ClusterId}//{p.Kind}/{p.Namespace}/{p.Name}", p.Name, p.Namespace, p.ServiceAccount,
                settings.TrustDomain, p.Addresses, p.NodeName, network, settings.ClusterId, node?.Locality ?? Locality.Empty,
                p.Ready ? WorkloadHealth.Healthy : WorkloadHealth.Unhealthy, 1, svcs, pols, p.Location,
                p.HostNetwork ? NetworkMode.HostNetwork : NetworkMode.Standard, enrolment.Enrolled(p), p.Kind));
        }

        // Namespaces: declared ones, and those implied by the objects in them.
        var allNs = new Dictionary<string, Namespace>(StringComparer.Ordinal);
        foreach (var n in namespaces.Values) allNs[n.Name] = new Namespace(n.Name, n.Location);
        foreach (var p in _pods) allNs.TryAdd(p.Namespace, new Namespace(p.Namespace, p.Location));
        foreach (var s in services) allNs.TryAdd(s.Namespace, new Namespace(s.Namespace, s.Location));
        foreach (var p in policies) allNs.TryAdd(p.Policy.Namespace, new Namespace(p.Policy.Namespace, p.Policy.Location));

        var hints = new WorldHints(_pods, workloads, _byNs, namespaces.Keys, settings, bag);
        Lint(policies, workloads, allNs.Keys.ToHashSet(StringComparer.Ordinal), namespaces.Count > 0, hints);
        hints.HostNetworkIdentities(policies);

        return new World(
            [.. allNs.Values],
            [.. nodes.Values.Select(n => new Node(n.Name, n.Locality, n.Network, n.Location))],
            [.. workloads],
            [.. irServices],
            [.. policies.Select(p => p.Policy)]).Canonical();
    }

    private Dictionary<string, T> Unique<T>(List<T> items, Func<T, string> key, Func<T, SourceLocation> loc, string what)
    {
        var d = new Dictionary<string, T>(items.Count, StringComparer.Ordinal);
        foreach (var x in items)
        {
            string k = key(x);
            if (d.TryGetValue(k, out var first)) bag.Add(Codes.DuplicateObject, loc(x), what, k, loc(first));
            else d[k] = x;
        }
        return d;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void IndexPods()
    {
        for (int i = 0; i < _pods.Count; i++)
        {
            var p = _pods[i];
            Posting(_byNs, p.Namespace).Add(i);
            foreach (var (k, v) in p.Labels.Pairs)
            {
                Posting(_byNsLabel, (p.Namespace, k, v)).Add(i);
                Posting(_byLabel, (k, v)).Add(i);
            }
        }
    }

    private static List<int> Posting<TKey>(Dictionary<TKey, List<int>> d, TKey key) where TKey : notnull
    {
        if (!d.TryGetValue(key, out var l)) d[key] = l = [];
        return l;
    }

    /// <summary>Pods whose labels contain every selector pair, in <paramref name="ns"/> (any namespace when
    /// null), in pod order. Starts from the shortest posting list of the selector's pairs.</summary>
    private List<int> Select(Labels selector, string? ns)
    {
        List<int>? shortest = null;
        foreach (var (k, v) in selector.Pairs)
        {
            var found = ns is null ? _byLabel.GetValueOrDefault((k, v)) : _byNsLabel.GetValueOrDefault((ns, k, v));
            if (found is null) return [];
            if (shortest is null || found.Count < shortest.Count) shortest = found;
        }
        if (shortest is null) return [];
        var result = new List<int>();
        foreach (int i in shortest) if (_pods[i].Labels.ContainsAll(selector)) result.Add(i);
        return result;
    }

    /// <summary>semantics.md §4: internalTrafficPolicy Local wins, then spec.trafficDistribution, then the
    /// annotation on the Service, then on its Namespace.</summary>
    private LoadBalancing LoadBalancingOf(ServiceModel s, NamespaceModel? ns)
    {
        var health = s.PublishNotReadyAddresses ? HealthPolicy.AllowAll : HealthPolicy.OnlyHealthy;
        if (s.InternalTrafficLocal) return new LoadBalancing([LbScope.Node], LbMode.Strict, health);
        string? td = s.TrafficDistribution ?? Annotation(s.DistributionAnnotation, s.AnnotationLocation, $"Service {s.Namespace}/{s.Name}");
        if (td is null && ns?.Annotations.Get(ObjectParser.TrafficDistributionAnnotation) is { } nsValue)
            td = Annotation(nsValue, ns.Location, $"Namespace {ns.Name}");
        return td switch
        {
            "PreferClose" or "PreferSameZone" => new LoadBalancing([LbScope.Network, LbScope.Region, LbScope.Zone], LbMode.Failover, health),
            "PreferSameNode" => new LoadBalancing([LbScope.Network, LbScope.Region, LbScope.Zone, LbScope.Subzone, LbScope.Node], LbMode.Failover, health),
            _ => new LoadBalancing([], LbMode.Unspecified, health),
        };
    }

    /// <summary>The annotation is matched case-insensitively, as istiod does.</summary>
    private string? Annotation(string? value, SourceLocation at, string obj)
    {
        if (value is null) return null;
        foreach (var known in new[] { "PreferClose", "PreferSameZone", "PreferSameNode" })
            if (string.Equals(value, known, StringComparison.OrdinalIgnoreCase)) return known;
        bag.Add(Codes.UnknownTrafficAnnotation.CreateFor(obj, at, value));
        return null;
    }

    /// <summary>Lints that need the world (semantics.md §5): policies that apply to nothing, service
    /// ports written where target ports are meant, namespaces that do not exist.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Lint(List<PolicyModel> policies, List<Workload> workloads, HashSet<string> knownNamespaces, bool namespacesDeclared, WorldHints hints)
    {
        bool podsKnown = _pods.Count > 0;
        PortView? all = null;
        var perNs = new Dictionary<string, PortView>(StringComparer.Ordinal);
        foreach (var pm in policies)
        {
            var p = pm.Policy;
            string obj = $"AuthorizationPolicy {p.Key}";
            // Global policies apply to every workload; they are never listed (the port view covers them).
            List<int> applied = p.Scope switch
            {
                PolicyScope.Global => [],
                PolicyScope.Namespace => _byNs.GetValueOrDefault(p.Namespace) ?? [],
                _ => pm.MatchLabels is { Pairs.IsEmpty: false } sel ? Select(sel, p.Namespace == settings.RootNamespace ? null : p.Namespace) : [],
            };
            if (podsKnown && p.Scope != PolicyScope.Global && applied.Count == 0 && pm.MatchLabels is not { Pairs.IsEmpty: true })
                bag.Add(Codes.SelectsNothing.CreateFor(obj, pm.TargetLocation, hints.WhyNothing(pm)));
            if (p.Scope != PolicyScope.Global) hints.NotEnforced(pm, applied);
            if (pm.Ports.Length > 0 && podsKnown)
            {
                var view = p.Scope switch
                {
                    PolicyScope.Global => all ??= new PortView(workloads, Enumerable.Range(0, workloads.Count)),
                    PolicyScope.Namespace => perNs.TryGetValue(p.Namespace, out var v) ? v : perNs[p.Namespace] = new PortView(workloads, applied),
                    _ => new PortView(workloads, applied),
                };
                foreach (var mention in pm.Ports)
                    if (!view.Targets.Contains(mention.Port) && view.ServicePorts.TryGetValue(mention.Port, out var sp))
                        bag.Add(Codes.ServicePortNotTarget.CreateFor(obj, mention.Location, mention.Port, sp.Service, sp.Target));
            }
            if (namespacesDeclared)
                foreach (var mention in pm.SourceNamespaces)
                {
                    var m = mention.Match;
                    bool exists = m.Kind switch
                    {
                        StringMatchKind.Presence => true,
                        StringMatchKind.Exact => knownNamespaces.Contains(m.Value),
                        _ => knownNamespaces.Any(m.Matches),
                    };
                    if (!exists) bag.Add(Codes.UnknownNamespace.CreateFor(obj, mention.Location, mention.Written));
                }
        }
    }

    /// <summary>The target ports of a set of workloads, and for each service port that is not also a
    /// target port, one service and target port to name in the message.</summary>
    private sealed class PortView
    {
        public HashSet<uint> Targets { get; } = new();
        public Dictionary<uint, (string Service, uint Target)> ServicePorts { get; } = new();

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public PortView(List<Workload> workloads, IEnumerable<int> indices)
        {
            foreach (int i in indices)
                foreach (var s in workloads[i].Services)
                    foreach (var p in s.Ports)
                    {
                        Targets.Add(p.TargetPort);
                        if (p.Port != p.TargetPort) ServicePorts.TryAdd(p.Port, (s.ServiceKey, p.TargetPort));
                    }
        }
    }
}
