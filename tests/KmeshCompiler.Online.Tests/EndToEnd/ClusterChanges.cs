using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Online.Tests.EndToEnd;

/// <summary>A seeded script of cluster changes, as istiod would serve them, on a small generated world
/// (<see cref="WorldGen"/>: a few namespaces, two nodes, tens of pods, services, policies with
/// namespace, principal, IP and port rules). Each <see cref="Step"/> is one change: a pod added or
/// deleted, a pod relabelled (the services and selector policies that select it change), a policy
/// added, edited or removed, a service added, removed or given other ports. Selectors are resolved as
/// istiod resolves them: a selector policy is listed by the workloads it selects, a service by its
/// endpoints.</summary>
internal sealed class ClusterChanges
{
    /// <summary>The node whose image is compiled.</summary>
    public const string Node = "node0";

    public static readonly string[] Kinds = ["pod add", "pod delete", "relabel", "policy add", "policy edit", "policy remove", "service change"];

    private static readonly string[] Accounts = ["default", "sa0", "sa1", "reader"];
    private static readonly uint[] CommonPorts = [80, 443, 8080, 9080, 5432];
    private readonly Random _rng;
    private readonly string _root;
    private int _next;

    public ClusterChanges(int seed)
    {
        _rng = new Random(seed);
        var options = new WorldGenOptions(Namespaces: 3, Nodes: 2, Workloads: 30, Services: 5, Policies: 10, MaxRulesPerPolicy: 2, MaxClausesPerRule: 2);
        _root = options.RootNamespace;
        World = WorldGen.World(new Random(seed), options);
    }

    public World World { get; private set; }

    /// <summary>How many changes of each kind (<see cref="Kinds"/>) were made.</summary>
    public Dictionary<string, int> Counts { get; } = Kinds.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);

    private IEnumerable<string> AppNamespaces => World.Namespaces.Select(n => n.Name).Where(n => n != _root);

    /// <summary>Makes one change that alters what is served, and says what it was.</summary>
    public string Step()
    {
        for (int attempt = 0; ; attempt++)
        {
            var before = World;
            int op = _rng.Next(100);
            var (kind, what) = op switch
            {
                < 16 => ("pod add", AddPod()),
                < 30 when World.Workloads.Length > 12 => ("pod delete", DeletePod()),
                < 50 => ("relabel", Relabel()),
                < 63 => ("policy add", AddPolicy()),
                < 78 when World.Policies.Length > 0 => ("policy edit", EditPolicy()),
                < 90 when World.Policies.Length > 4 => ("policy remove", RemovePolicy()),
                _ => ("service change", ChangeService()),
            };
            World = World.Canonical();
            if (!IrEquality.Equal(before, World) || attempt > 20)
            {
                Counts[kind]++;
                return what;
            }
        }
    }

    private Workload Pick(Func<Workload, bool>? where = null)
    {
        var pods = World.Workloads.Where(w => where?.Invoke(w) ?? true).ToList();
        return pods[_rng.Next(pods.Count)];
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    private ImmutableArray<T> Some<T>(IEnumerable<T> items, int oneIn) => [.. items.Where(_ => _rng.Next(oneIn) == 0)];

    // ---- pods ------------------------------------------------------------------------------------

    private string AddPod()
    {
        int n = ++_next;
        string ns = Pick(AppNamespaces.ToList());
        var node = _rng.Next(5) < 3 ? World.Nodes.First(x => x.Name == Node) : Pick(World.Nodes.Where(x => x.Name != Node).ToList());
        var v4 = IpAddr.Parse($"10.200.{n / 250 % 250}.{1 + n % 250}");
        ImmutableArray<IpAddr> addresses = _rng.Next(4) == 0 ? [v4, IpAddr.Parse($"fd00::c8:{n:x}")] : [v4];
        var pod = new Workload($"Kubernetes//Pod/{ns}/e2e-{n}", $"e2e-{n}", ns, Pick(Accounts), Workload.DefaultTrustDomain, addresses,
            node.Name, node.Network, Workload.DefaultClusterId, node.Locality, _rng.Next(8) == 0 ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy,
            1, [], [], SourceLocation.None);
        pod = Labelled(pod);
        World = World with { Workloads = World.Workloads.Add(pod) };
        return $"add pod {pod.Key} on {pod.Node}";
    }

    private string DeletePod()
    {
        var pod = Pick();
        World = World with { Workloads = World.Workloads.Remove(pod) };
        return $"delete pod {pod.Key}";
    }

    /// <summary>New labels: the services and selector policies of its namespace that select the pod
    /// are drawn again; sometimes its service account or health changes too.</summary>
    private string Relabel()
    {
        var pod = Pick();
        var next = Labelled(pod);
        if (_rng.Next(6) == 0) next = next with { ServiceAccount = Pick(Accounts) };
        if (_rng.Next(8) == 0) next = next with { Health = next.Health == WorkloadHealth.Healthy ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy };
        World = World with { Workloads = World.Workloads.Replace(pod, next) };
        return $"relabel pod {pod.Key}: services [{string.Join(", ", next.Services.Select(s => s.ServiceKey))}], policies [{string.Join(", ", next.AuthorizationPolicies)}]";
    }

    private Workload Labelled(Workload pod) => pod with
    {
        Services = [.. World.Services.Where(s => s.Namespace == pod.Namespace && _rng.Next(2) == 0)
            .Select(s => new WorkloadServicePorts(s.Key, s.Ports)).OrderBy(s => s.ServiceKey, StringComparer.Ordinal)],
        AuthorizationPolicies = [.. World.Policies.Where(p => p.Scope == PolicyScope.WorkloadSelector && (p.Namespace == pod.Namespace || p.Namespace == _root) && _rng.Next(2) == 0)
            .Select(p => p.Key).Order(StringComparer.Ordinal)],
    };

    // ---- policies --------------------------------------------------------------------------------

    private string AddPolicy()
    {
        string ns = _rng.Next(5) == 0 ? _root : Pick(AppNamespaces.ToList());
        var p = NewPolicy($"e2e-pol-{++_next}", ns);
        World = Attach(World with { Policies = World.Policies.Add(p) }, p);
        return $"add {p.Scope} {p.Action} policy {p.Key}";
    }

    private string EditPolicy()
    {
        var old = Pick(World.Policies);
        Policy next = _rng.Next(4) switch
        {
            0 => old with { Action = old.Action == PolicyAction.Allow ? PolicyAction.Deny : PolicyAction.Allow },
            1 => old with { DryRun = !old.DryRun },
            _ => old with { Rules = Rules() },
        };
        World = World with { Policies = World.Policies.Replace(old, next) };
        return $"edit policy {old.Key}";
    }

    private string RemovePolicy()
    {
        var p = Pick(World.Policies);
        World = World with
        {
            Policies = World.Policies.Remove(p),
            Workloads = [.. World.Workloads.Select(w => w.AuthorizationPolicies.Contains(p.Key) ? w with { AuthorizationPolicies = w.AuthorizationPolicies.Remove(p.Key) } : w)],
        };
        return $"remove policy {p.Key}";
    }

    private Policy NewPolicy(string name, string ns)
    {
        var scope = ns == _root
            ? (_rng.Next(2) == 0 ? PolicyScope.Global : PolicyScope.WorkloadSelector)
            : (_rng.Next(2) == 0 ? PolicyScope.Namespace : PolicyScope.WorkloadSelector);
        return new Policy(name, ns, scope, _rng.Next(3) == 0 ? PolicyAction.Deny : PolicyAction.Allow, _rng.Next(8) == 0, Rules(), SourceLocation.None);
    }

    /// <summary>A selector policy is listed by the pods its selector picks (about half of those it may).</summary>
    private World Attach(World w, Policy p) => p.Scope != PolicyScope.WorkloadSelector ? w : w with
    {
        Workloads = [.. w.Workloads.Select(x => (x.Namespace == p.Namespace || p.Namespace == _root) && _rng.Next(2) == 0
            ? x with { AuthorizationPolicies = [.. x.AuthorizationPolicies.Add(p.Key).Order(StringComparer.Ordinal)] }
            : x)],
    };

    private ImmutableArray<Rule> Rules() =>
        [.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(_ => new Rule([.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(_ => new Clause([Match()], SourceLocation.None))], SourceLocation.None))];

    /// <summary>One match on one or two of: source namespace, principal (or not), source IP, service
    /// account, destination port, drawn from the world so that they select real pods.</summary>
    private Match Match()
    {
        var m = Ir.Match.Empty(SourceLocation.None);
        int fields = 1 + _rng.Next(2);
        for (int i = 0; i < fields; i++)
        {
            var pod = Pick();
            m = _rng.Next(6) switch
            {
                0 => m with { Namespaces = [_rng.Next(3) == 0 ? new StringMatch(StringMatchKind.Prefix, pod.Namespace[..2]) : new StringMatch(StringMatchKind.Exact, pod.Namespace)] },
                1 => m with { Principals = [new StringMatch(StringMatchKind.Exact, pod.Identity.ToString())] },
                2 => m with { NotPrincipals = [_rng.Next(2) == 0 ? new StringMatch(StringMatchKind.Presence, "") : new StringMatch(StringMatchKind.Exact, pod.Identity.ToString())] },
                3 => m with { SourceIps = [new IpPrefix(pod.Addresses[0], _rng.Next(2) == 0 ? pod.Addresses[0].Bits : pod.Addresses[0].Bits / 2)] },
                4 => m with { ServiceAccounts = [new ServiceAccountMatch(pod.Namespace, pod.ServiceAccount)] },
                _ => m with { DestinationPorts = Ports() },
            };
        }
        return m;
    }

    private ImmutableArray<uint> Ports()
    {
        var known = World.Services.SelectMany(s => s.Ports.Select(p => p.TargetPort)).Concat(CommonPorts).Distinct().Order().ToList();
        return [.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(_ => Pick(known)).Distinct().Order()];
    }

    // ---- services --------------------------------------------------------------------------------

    private string ChangeService()
    {
        int op = _rng.Next(3);
        if (op == 0 || World.Services.Length < 3)
        {
            int n = ++_next;
            string ns = Pick(AppNamespaces.ToList());
            var svc = new Service($"e2e-svc-{n}", ns, $"e2e-svc-{n}.{ns}.svc.cluster.local", [new NetworkAddress("", IpAddr.Parse($"10.97.{n / 250 % 250}.{1 + n % 250}"))],
                ServicePorts(), LoadBalancing.Default, SourceLocation.None);
            World = World with
            {
                Services = World.Services.Add(svc),
                Workloads = [.. World.Workloads.Select(w => w.Namespace == ns && _rng.Next(2) == 0 ? WithEndpoint(w, svc) : w)],
            };
            return $"add service {svc.Key} ({svc.Ports.Length} ports)";
        }
        var old = Pick(World.Services);
        if (op == 1)
        {
            World = World with
            {
                Services = World.Services.Remove(old),
                Workloads = [.. World.Workloads.Select(w => w with { Services = [.. w.Services.Where(s => s.ServiceKey != old.Key)] })],
            };
            return $"remove service {old.Key}";
        }
        var next = old with { Ports = ServicePorts() };
        World = World with
        {
            Services = World.Services.Replace(old, next),
            Workloads = [.. World.Workloads.Select(w => w.Services.Any(s => s.ServiceKey == old.Key) ? WithEndpoint(w, next) : w)],
        };
        return $"change the ports of service {old.Key}";
    }

    private ImmutableArray<ServicePort> ServicePorts() =>
        [.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(i => new ServicePort(i == 0 ? 80u : (uint)(8000 + _rng.Next(50)), (uint)(9000 + _rng.Next(50))))
            .DistinctBy(p => p.Port)];

    private static Workload WithEndpoint(Workload w, Service svc) => w with
    {
        Services = [.. w.Services.Where(s => s.ServiceKey != svc.Key).Append(new WorkloadServicePorts(svc.Key, svc.Ports)).OrderBy(s => s.ServiceKey, StringComparer.Ordinal)],
    };
}
