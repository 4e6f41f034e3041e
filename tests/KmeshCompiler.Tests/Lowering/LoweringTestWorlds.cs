using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>Small hand-built IR worlds for lowering tests (the front ends are tested elsewhere).</summary>
internal static class W
{
    public static readonly SourceLocation Loc = new("test.yaml", 1, 1);

    public static Workload Pod(string ns, string name, string node, params string[] addrs) => new(
        $"Kubernetes//Pod/{ns}/{name}", name, ns, "default", Workload.DefaultTrustDomain,
        [.. addrs.Select(IpAddr.Parse)], node, "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], Loc);

    public static Policy Policy(string ns, string name, PolicyAction action, params Rule[] rules) =>
        new(name, ns, PolicyScope.Namespace, action, false, [.. rules], Loc);

    public static Rule Rule(params Clause[] clauses) => new([.. clauses], Loc);

    public static Clause Clause(params Match[] matches) => new([.. matches], Loc);

    public static Match Empty => Match.Empty(Loc);

    public static Match Ports(params uint[] ports) => Empty with { DestinationPorts = [.. ports] };

    public static Match From(params string[] cidrs) => Empty with { SourceIps = [.. cidrs.Select(IpPrefix.Parse)] };

    public static StringMatch Exact(string s) => new(StringMatchKind.Exact, s);

    public static World World(IEnumerable<Workload> workloads, IEnumerable<Policy> policies, IEnumerable<Service>? services = null) =>
        new([.. workloads.Select(w => w.Namespace).Distinct().Select(n => new Namespace(n, Loc))],
            [new Node("node-a", new Locality("r1", "z1", ""), "", Loc), new Node("node-b", new Locality("r1", "z2", ""), "", Loc)],
            [.. workloads], [.. services ?? []], [.. policies]);
}
