using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Serve;

/// <summary>Seeded sequences of world changes on a small two-node world: pods added and deleted,
/// policies (namespace-wide and mesh-wide, ALLOW and DENY, dry-run or not) added, edited and removed.</summary>
public sealed class WorldChanges(int seed)
{
    public const string Node = "n1";
    private static readonly SourceLocation None = SourceLocation.None;
    private static readonly string[] Namespaces = ["web", "db", "istio-system"];
    private readonly Random _rng = new(seed);
    private readonly List<Workload> _pods = [];
    private readonly List<Policy> _policies = [];
    private int _nextPod, _nextPolicy;

    public World World { get; private set; } = World.Empty;

    public WorldChanges Start(int pods = 12, int policies = 6)
    {
        for (int i = 0; i < pods; i++) AddPod();
        for (int i = 0; i < policies; i++) AddPolicy();
        return Build();
    }

    /// <summary>One random change; its name, for messages.</summary>
    public string Step()
    {
        int op = _rng.Next(10);
        string what = op switch
        {
            < 2 => AddPod(),
            < 4 when _pods.Count > 2 => DeletePod(),
            < 6 => AddPolicy(),
            < 8 when _policies.Count > 0 => EditPolicy(),
            _ when _policies.Count > 1 => RemovePolicy(),
            _ => AddPolicy(),
        };
        Build();
        return what;
    }

    private WorldChanges Build()
    {
        World = new World([.. Namespaces.Select(n => new Namespace(n, None))],
            [new Node("n1", Locality.Empty, "", None), new Node("n2", Locality.Empty, "", None)],
            [.. _pods], [], [.. _policies]).Canonical();
        return this;
    }

    private string AddPod()
    {
        int i = _nextPod++;
        string ns = Namespaces[_rng.Next(2)];
        var ip = IpAddr.Parse($"10.{1 + i / 250 % 200}.{i / 50 % 250}.{1 + i % 250}");
        var pod = new Workload($"Kubernetes//Pod/{ns}/pod-{i}", $"pod-{i}", ns, $"sa-{i % 3}", Workload.DefaultTrustDomain, [ip],
            _rng.Next(3) == 0 ? "n2" : "n1", "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], None);
        _pods.Add(pod);
        return $"add pod {pod.Key} on {pod.Node}";
    }

    private string DeletePod()
    {
        var pod = _pods[_rng.Next(_pods.Count)];
        _pods.Remove(pod);
        return $"delete pod {pod.Key}";
    }

    private Policy NewPolicy(string name, string ns)
    {
        bool global = ns == "istio-system";
        var action = _rng.Next(3) == 0 ? PolicyAction.Deny : PolicyAction.Allow;
        var ports = Enumerable.Range(0, 1 + _rng.Next(3)).Select(_ => (uint)(8000 + _rng.Next(20))).Distinct().Order().ToImmutableArray();
        var match = Match.Empty(None) with { DestinationPorts = ports };
        if (_rng.Next(2) == 0) match = match with { SourceIps = [IpPrefix.Parse($"10.{1 + _rng.Next(3)}.0.0/16")] };
        return new Policy(name, ns, global ? PolicyScope.Global : PolicyScope.Namespace, action, _rng.Next(8) == 0,
            [new Rule([new Clause([match], None)], None)], None);
    }

    private string AddPolicy()
    {
        var p = NewPolicy($"policy-{_nextPolicy++}", Namespaces[_rng.Next(Namespaces.Length)]);
        _policies.Add(p);
        return $"add {p.Action} policy {p.Key}";
    }

    private string EditPolicy()
    {
        int i = _rng.Next(_policies.Count);
        var old = _policies[i];
        _policies[i] = NewPolicy(old.Name, old.Namespace);
        return $"edit policy {old.Key}";
    }

    private string RemovePolicy()
    {
        var p = _policies[_rng.Next(_policies.Count)];
        _policies.Remove(p);
        return $"remove policy {p.Key}";
    }

    /// <summary>What <c>kmeshc compile</c> makes of a world for a node: the image bytes.</summary>
    public static byte[] Compile(World world, string node = Node, LoweringLimits? limits = null)
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, node, bag, limits) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted()));
        return image.ToBytes();
    }
}
