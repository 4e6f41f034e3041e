using System.Collections.Immutable;
using System.Net;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Serve;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A world around one allowed connection, and seeded changes that never change its
/// decision. A client pod (namespace clients, on another node) is allowed to port 8080 of a server
/// pod on this node (namespace web) by one ALLOW policy on its principal; the same client is denied
/// port 8081, and a stranger (another address beside the client, another identity) is denied 8080.
/// Each change adds, deletes or relabels a background pod (this node and the other one), or adds,
/// edits or removes a background policy (namespace-wide, mesh-wide or by selector; ALLOW or DENY;
/// dry-run or not; in the server's namespace or others; sometimes selecting the server). A change is
/// drawn at random and kept only if it changes the node's image (a pod on the other node, a
/// selector that picks nothing enforced here can leave it as it was) and the reference evaluator gives
/// every probe connection the decision it had at the start, so "never changes the client's decision"
/// is checked, not assumed.</summary>
public sealed class SteadyClientWorld
{
    public const string Node = WorldChanges.Node;
    public const ushort OpenPort = 8080, ShutPort = 8081;
    private const string Web = "web", Clients = "clients";
    private static readonly SourceLocation None = SourceLocation.None;
    private static readonly string[] PodNamespaces = [Web, "db", "other"];
    private static readonly string[] PolicyNamespaces = [Web, Web, Web, "db", "other", "istio-system"];
    private readonly Random _rng;
    private readonly Workload _client, _stranger;
    private Workload _server;
    private readonly List<Workload> _pods = [];
    private readonly List<Policy> _policies = [];
    private readonly (Connection Connection, Decision Decision)[] _probes;
    private int _nextPod, _nextPolicy;
    private byte[] _image = [];
    private string? _touched;

    public World World { get; private set; } = World.Empty;

    /// <summary>The client's principal, for a policy that does change its decision.</summary>
    public string ClientPrincipal => _client.Identity.ToString();

    /// <summary>How many changes of each kind were made.</summary>
    public SortedDictionary<string, int> Kinds { get; } = new(StringComparer.Ordinal);

    /// <summary>Changes drawn and thrown away because they changed a probe's decision.</summary>
    public int Rejected { get; private set; }

    /// <summary>Changes drawn and thrown away because the node's image stayed the same.</summary>
    public int Idle { get; private set; }

    public SteadyClientWorld(int seed, IPAddress client4, IPAddress client6, IPAddress server4, IPAddress server6, IPAddress stranger4)
    {
        _rng = new Random(seed);
        _server = Pod("Kubernetes//Pod/web/server", "server", Web, "server", [Addr(server4), Addr(server6)], Node, []);
        _client = Pod("Kubernetes//Pod/clients/client", "client", Clients, "client", [Addr(client4), Addr(client6)], "n2", []);
        _stranger = Pod("Kubernetes//Pod/clients/stranger", "stranger", Clients, "stranger", [Addr(stranger4)], "n2", []);
        var allow = new Policy("allow-client", Web, PolicyScope.Namespace, PolicyAction.Allow, false,
            [new Rule([new Clause([Match.Empty(None) with { Principals = [Exact(ClientPrincipal)], DestinationPorts = [OpenPort] }], None)], None)], None);
        _policies.Add(allow);
        _probes =
        [
            (new Connection(Addr(client4), Addr(server4), OpenPort, null), Decision.Allow),
            (new Connection(Addr(client6), Addr(server6), OpenPort, null), Decision.Allow),
            (new Connection(Addr(client4), Addr(server4), ShutPort, null), Decision.Deny),
            (new Connection(Addr(client6), Addr(server6), ShutPort, null), Decision.Deny),
            (new Connection(Addr(stranger4), Addr(server4), OpenPort, null), Decision.Deny),
        ];
        for (int i = 0; i < 20; i++) AddPod();
        if (Changed(Build()) is { } wrong) throw new InvalidOperationException($"the starting world decides {wrong}");
        for (int i = 0; i < 8; i++) Step();
        Kinds.Clear();
        Rejected = Idle = 0;
    }

    private static IpAddr Addr(IPAddress a) => IpAddr.Parse(a.ToString());

    private static StringMatch Exact(string s) => new(StringMatchKind.Exact, s);

    private static Workload Pod(string uid, string name, string ns, string sa, ImmutableArray<IpAddr> addresses, string node, ImmutableArray<string> policies) =>
        new(uid, name, ns, sa, Workload.DefaultTrustDomain, addresses, node, "", Workload.DefaultClusterId, Locality.Empty,
            WorkloadHealth.Healthy, 1, [], policies, None);

    /// <summary>The first probe whose decision differs from the start's, as text; null when none does.</summary>
    private string? Changed(World world)
    {
        var ev = new Evaluator(world);
        foreach (var (c, expected) in _probes)
        {
            var v = ev.Decide(ev.ResolveIdentity(c));
            if (v.Decision != expected) return $"{c}: {v.Decision} ({v.Reason}{(v.Policy is { } p ? ", " + p.Key : "")}), not {expected}";
        }
        return null;
    }

    private World Build()
    {
        World = new World([.. new[] { Web, Clients, "db", "other", "istio-system" }.Select(n => new Namespace(n, None))],
            [new Node(Node, Locality.Empty, "", None), new Node("n2", Locality.Empty, "", None)],
            [_server, _client, _stranger, .. _pods], [], [.. _policies]).Canonical();
        return World;
    }

    /// <summary>One change of the node's image that keeps every probe's decision; its description.</summary>
    public string Step()
    {
        for (int attempt = 0; attempt < 500; attempt++)
        {
            var (pods, policies, server, nextPod, nextPolicy) = (_pods.ToList(), _policies.ToList(), _server, _nextPod, _nextPolicy);
            _touched = null;
            var (kind, what) = _rng.Next(13) switch
            {
                < 2 => ("add pod", AddPod()),
                < 4 when _pods.Count > 8 => ("delete pod", DeletePod()),
                < 6 when _pods.Count > 0 => ("relabel pod", RelabelPod()),
                < 7 when Selectors(Web).Count > 0 => ("relabel server", RelabelServer()),
                < 9 => ("add policy", AddPolicy()),
                < 11 when _policies.Count > 1 => ("edit policy", EditPolicy()),
                _ when _policies.Count > 3 => ("remove policy", RemovePolicy()),
                _ => ("add policy", AddPolicy()),
            };
            if (Changed(Build()) is null)
            {
                var image = WorldChanges.Compile(World);
                if (!image.AsSpan().SequenceEqual(_image))
                {
                    _image = image;
                    // A policy the server's connections are evaluated against (its namespace's, the
                    // mesh's, or a selector's that picks it) is counted apart.
                    if (_touched is { } key && new Evaluator(World).Candidates(_server).Any(p => p.Key == key)) kind += " applying to the server";
                    Kinds[kind] = Kinds.GetValueOrDefault(kind) + 1;
                    return what;
                }
                Idle++;
            }
            else Rejected++;
            _pods.Clear(); _pods.AddRange(pods);
            _policies.Clear(); _policies.AddRange(policies);
            (_server, _nextPod, _nextPolicy) = (server, nextPod, nextPolicy);
        }
        throw new InvalidOperationException($"no change of the image that keeps the probes' decisions was found in 500 draws ({Rejected} changed a decision, {Idle} left the image as it was)");
    }

    private T Pick<T>(IReadOnlyList<T> xs) => xs[_rng.Next(xs.Count)];

    /// <summary>The selector policies of a namespace, by key.</summary>
    private List<string> Selectors(string ns) => [.. _policies.Where(p => p.Scope == PolicyScope.WorkloadSelector && p.Namespace == ns).Select(p => p.Key)];

    private string AddPod()
    {
        int i = _nextPod++;
        string ns = Pick(PodNamespaces);
        ImmutableArray<IpAddr> addresses = _rng.Next(3) == 0
            ? [IpAddr.Parse($"10.60.{i / 250 % 250}.{1 + i % 250}"), IpAddr.Parse($"fd00:60::{i + 1:x}")]
            : [IpAddr.Parse($"10.60.{i / 250 % 250}.{1 + i % 250}")];
        var selectors = Selectors(ns);
        var pod = Pod($"Kubernetes//Pod/{ns}/bg-{i}", $"bg-{i}", ns, $"sa-{_rng.Next(4)}", addresses, _rng.Next(3) == 0 ? "n2" : Node,
            [.. selectors.Where(_ => _rng.Next(2) == 0)]);
        _pods.Add(pod);
        return $"add pod {pod.Key} on {pod.Node}";
    }

    private string DeletePod()
    {
        var pod = Pick(_pods);
        _pods.Remove(pod);
        return $"delete pod {pod.Key}";
    }

    /// <summary>A selector policy of its namespace starts or stops selecting the pod (its labels
    /// changed), or its service account changes.</summary>
    private string RelabelPod()
    {
        int i = _rng.Next(_pods.Count);
        var pod = _pods[i];
        var selectors = Selectors(pod.Namespace);
        if (selectors.Count > 0 && _rng.Next(3) != 0)
        {
            string key = Pick(selectors);
            _pods[i] = pod with { AuthorizationPolicies = pod.AuthorizationPolicies.Contains(key) ? pod.AuthorizationPolicies.Remove(key) : pod.AuthorizationPolicies.Add(key) };
            return $"relabel pod {pod.Key}: {(pod.AuthorizationPolicies.Contains(key) ? "leaves" : "joins")} {key}";
        }
        _pods[i] = pod with { ServiceAccount = $"sa-{_rng.Next(4)}-{_rng.Next(100)}" };
        return $"relabel pod {pod.Key}: service account {_pods[i].ServiceAccount}";
    }

    /// <summary>A selector policy of the server's namespace starts or stops selecting the server.</summary>
    private string RelabelServer()
    {
        string key = Pick(Selectors(Web));
        bool leaves = _server.AuthorizationPolicies.Contains(key);
        _server = _server with { AuthorizationPolicies = leaves ? _server.AuthorizationPolicies.Remove(key) : _server.AuthorizationPolicies.Add(key) };
        return $"relabel the server: {(leaves ? "leaves" : "joins")} {key}";
    }

    private Match RandomMatch()
    {
        var m = Match.Empty(None);
        if (_rng.Next(4) != 0)
            m = m with { DestinationPorts = [.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(_ => Pick<uint>([OpenPort, ShutPort, 9000, 9001, (uint)(9002 + _rng.Next(8))])).Distinct().Order()] };
        if (_rng.Next(4) == 0) m = m with { NotDestinationPorts = [(uint)(9000 + _rng.Next(4))] };
        switch (_rng.Next(6))
        {
            case 0: m = m with { Principals = [Pick<StringMatch>([Exact(ClientPrincipal), Exact(_stranger.Identity.ToString()), Exact("cluster.local/ns/db/sa/sa-1"), new(StringMatchKind.Prefix, "cluster.local/ns/other/")])] }; break;
            case 1: m = m with { SourceIps = [IpPrefix.Parse(Pick<string>(["10.60.0.0/16", "10.60.0.0/24", "fd00:60::/32", "10.201.0.0/16", "0.0.0.0/0"]))] }; break;
            case 2: m = m with { Namespaces = [Exact(Pick<string>(["db", "other", Clients]))] }; break;
            case 3: m = m with { NotPrincipals = [Exact(ClientPrincipal)] }; break;
            case 4: m = m with { ServiceAccounts = [new ServiceAccountMatch(Pick<string>(["db", Clients]), Pick<string>(["sa-1", "client", "stranger"]))] }; break;
            default: break;
        }
        return m.IsEmpty ? m with { DestinationPorts = [9009] } : m;
    }

    private Policy RandomPolicy(string name, string ns, PolicyScope scope)
    {
        var rules = Enumerable.Range(0, 1 + _rng.Next(2))
            .Select(_ => new Rule([new Clause([.. Enumerable.Range(0, 1 + _rng.Next(2)).Select(_ => RandomMatch())], None)], None));
        return new Policy(name, ns, scope, _rng.Next(2) == 0 ? PolicyAction.Deny : PolicyAction.Allow, _rng.Next(6) == 0, [.. rules], None);
    }

    private string AddPolicy()
    {
        string ns = Pick(PolicyNamespaces);
        var scope = ns == "istio-system" ? PolicyScope.Global : _rng.Next(3) == 0 ? PolicyScope.WorkloadSelector : PolicyScope.Namespace;
        var p = RandomPolicy($"bg-{_nextPolicy++}", ns, scope);
        _policies.Add(p);
        _touched = p.Key;
        string selecting = "";
        if (scope == PolicyScope.WorkloadSelector)
        {
            // It selects some pods of its namespace, the server sometimes among them.
            for (int i = 0; i < _pods.Count; i++)
                if (_pods[i].Namespace == ns && _rng.Next(2) == 0) _pods[i] = _pods[i] with { AuthorizationPolicies = _pods[i].AuthorizationPolicies.Add(p.Key) };
            if (ns == Web && _rng.Next(3) == 0)
            {
                _server = _server with { AuthorizationPolicies = _server.AuthorizationPolicies.Add(p.Key) };
                selecting = ", selecting the server";
            }
        }
        return $"add {(p.DryRun ? "dry-run " : "")}{p.Action} {scope} policy {p.Key}{selecting}";
    }

    /// <summary>The background policies (never the client's ALLOW).</summary>
    private List<int> Background() => [.. Enumerable.Range(0, _policies.Count).Where(i => _policies[i].Name != "allow-client")];

    private string EditPolicy()
    {
        int i = Pick(Background());
        var old = _policies[i];
        _policies[i] = RandomPolicy(old.Name, old.Namespace, old.Scope);
        _touched = old.Key;
        return $"edit policy {old.Key}: now {(_policies[i].DryRun ? "dry-run " : "")}{_policies[i].Action}";
    }

    private string RemovePolicy()
    {
        var p = _policies[Pick(Background())];
        _policies.Remove(p);
        for (int i = 0; i < _pods.Count; i++)
            if (_pods[i].AuthorizationPolicies.Contains(p.Key)) _pods[i] = _pods[i] with { AuthorizationPolicies = _pods[i].AuthorizationPolicies.Remove(p.Key) };
        if (_server.AuthorizationPolicies.Contains(p.Key)) _server = _server with { AuthorizationPolicies = _server.AuthorizationPolicies.Remove(p.Key) };
        return $"remove policy {p.Key}";
    }
}
