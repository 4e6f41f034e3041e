using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Tests.Support;

public sealed record WorldGenOptions(
    int Namespaces = 3,
    int Nodes = 3,
    int Workloads = 12,
    int Services = 4,
    int Policies = 8,
    int MaxRulesPerPolicy = 3,
    int MaxClausesPerRule = 3,
    int MaxMatchesPerClause = 3,
    int MaxListLength = 3,
    bool Ipv6 = true,
    bool DryRun = true,
    string RootNamespace = "istio-system",
    bool HostNetwork = true,
    bool Enrolment = true,
    bool AttachAnyName = false,
    bool IdentityHeavy = false);

/// <summary>Seeded random IR worlds for property tests: every match field kind, negatives, empty
/// lists at every level, IPv4 and IPv6 (dual-stack workloads, unmasked CIDRs), string wildcards,
/// dry-run, selector attachments (and, as xDS allows, attached names of other scopes and of no
/// policy at all), services with every load-balancing mode, host-network pods sharing their node's
/// address, workloads not enrolled in the mesh. Values are drawn mostly
/// from the world itself (its namespaces, identities, addresses and ports) so that matches hit often
/// enough to exercise both outcomes.</summary>
public static class WorldGen
{
    private static readonly ushort[] CommonPorts = [80, 443, 8080, 9080, 15008, 5432];

    public static World World(Random rng, WorldGenOptions? options = null)
    {
        var o = options ?? new WorldGenOptions();
        var nsNames = Enumerable.Range(0, Math.Max(1, o.Namespaces)).Select(i => $"ns{i}").Append(o.RootNamespace).ToList();
        var namespaces = nsNames.Select(n => new Namespace(n, SourceLocation.None)).ToImmutableArray();
        var nodes = Enumerable.Range(0, Math.Max(1, o.Nodes)).Select(i => new Node(
            $"node{i}",
            new Locality($"region{rng.Next(2)}", $"zone{rng.Next(3)}", rng.Next(3) == 0 ? "" : $"sub{rng.Next(2)}"),
            rng.Next(4) == 0 ? "net1" : "",
            SourceLocation.None)).ToImmutableArray();
        // Identity-heavy worlds: many service accounts, matches mostly on identity (wildcards and
        // negations), most root-namespace policies mesh-wide.
        var sas = o.IdentityHeavy ? Enumerable.Range(0, 12).Select(i => $"app{i}").Append("default").ToArray() : new[] { "default", "sa0", "sa1", "reader" };

        // Policies first, so workloads can attach selector policies.
        var policies = new List<Policy>();
        var workloadsDraft = new List<Workload>();
        int addrCounter = 1;
        for (int i = 0; i < o.Workloads; i++)
        {
            string ns = nsNames[rng.Next(nsNames.Count - 1)];
            var node = nodes[rng.Next(nodes.Length)];
            var addrs = new List<IpAddr>();
            int kind = o.Ipv6 ? rng.Next(5) : 0; // 0-2 v4, 3 v6, 4 dual
            int n = addrCounter++;
            if (kind != 3) addrs.Add(IpAddr.V4(0x0A000000u | (uint)((nsNames.IndexOf(ns) & 0xff) << 16) | (uint)n));
            if (kind >= 3) addrs.Add(new IpAddr(((UInt128)0xfd00_0000_0000_0000UL << 64) | (UInt128)(uint)n, true));
            workloadsDraft.Add(new Workload(
                $"Kubernetes//Pod/{ns}/wl{i}", $"wl{i}", ns, sas[rng.Next(sas.Length)],
                rng.Next(10) == 0 ? "other.domain" : Workload.DefaultTrustDomain,
                [.. addrs], node.Name, rng.Next(3) == 0 ? "net1" : node.Network, Workload.DefaultClusterId,
                node.Locality, rng.Next(6) == 0 ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy,
                (uint)rng.Next(1, 4), [], [], SourceLocation.None));
        }

        // Host-network pods share their node's address (and lend it no identity); some workloads are
        // not enrolled (not enforced, identity kept as sources).
        if (o.HostNetwork)
            for (int k = 0; k < nodes.Length; k++)
                for (int j = rng.Next(3); j > 0; j--)
                {
                    string ns = nsNames[rng.Next(nsNames.Count)];
                    var node = nodes[k];
                    workloadsDraft.Add(new Workload(
                        $"Kubernetes//Pod/{ns}/host{k}-{j}", $"host{k}-{j}", ns, sas[rng.Next(sas.Length)], Workload.DefaultTrustDomain,
                        [IpAddr.V4(0xC0A80000u | (uint)(k + 1))], node.Name, node.Network, Workload.DefaultClusterId, node.Locality,
                        WorkloadHealth.Healthy, 1, [], [], SourceLocation.None, NetworkMode.HostNetwork));
                }
        if (o.Enrolment)
            for (int i = 0; i < workloadsDraft.Count; i++)
                if (rng.Next(8) == 0) workloadsDraft[i] = workloadsDraft[i] with { Enrolled = false };

        var ports = new List<ushort>(CommonPorts);
        var services = new List<Service>();
        var endpointPorts = new Dictionary<string, List<WorkloadServicePorts>>();
        for (int i = 0; i < o.Services; i++)
        {
            string ns = nsNames[rng.Next(nsNames.Count - 1)];
            string host = $"svc{i}.{ns}.svc.cluster.local";
            var sp = new List<ServicePort>();
            int np = rng.Next(1, 3);
            for (int k = 0; k < np; k++)
            {
                uint port = (uint)(k == 0 ? 80 : 8000 + rng.Next(100));
                if (sp.Any(x => x.Port == port)) continue;
                uint target = rng.Next(3) == 0 ? port : (uint)(9000 + rng.Next(100));
                sp.Add(new ServicePort(port, target, (AppProtocol)rng.Next(6)));
                ports.Add((ushort)target);
            }
            var addrs = new List<NetworkAddress> { new("", IpAddr.V4(0x0A600000u | (uint)(i + 1))) };
            if (o.Ipv6 && rng.Next(3) == 0) addrs.Add(new NetworkAddress("", new IpAddr(((UInt128)0xfd00_0096_0000_0000UL << 64) | (UInt128)(uint)(i + 1), true)));
            var svc = new Service($"svc{i}", ns, host, [.. addrs], [.. sp], RandomLb(rng), SourceLocation.None);
            services.Add(svc);
            foreach (var w in workloadsDraft.Where(w => w.Namespace == ns && rng.Next(2) == 0))
            {
                if (!endpointPorts.TryGetValue(w.Uid, out var l)) endpointPorts[w.Uid] = l = new();
                l.Add(new WorkloadServicePorts(svc.Key, [.. sp.Select(p => rng.Next(4) == 0 ? p with { TargetPort = (uint)(9100 + rng.Next(10)) } : p)]));
            }
        }
        foreach (var l in endpointPorts.Values) foreach (var e in l) foreach (var p in e.Ports) ports.Add((ushort)p.TargetPort);

        var ctx = new Ctx(rng, o, nsNames, workloadsDraft, ports.Distinct().ToList());
        for (int i = 0; i < o.Policies; i++)
        {
            string ns = nsNames[rng.Next(nsNames.Count)];
            if (o.IdentityHeavy && rng.Next(3) == 0) ns = o.RootNamespace;
            var scope = ns == o.RootNamespace
                ? (rng.Next(o.IdentityHeavy ? 4 : 2) != 1 ? PolicyScope.Global : PolicyScope.WorkloadSelector)
                : (PolicyScope)rng.Next(1, 3);
            var action = rng.Next(3) == 0 ? PolicyAction.Deny : PolicyAction.Allow;
            int nr = rng.Next(8) == 0 ? 0 : rng.Next(1, o.MaxRulesPerPolicy + 1);
            var rules = Enumerable.Range(0, nr).Select(_ => ctx.Rule()).ToImmutableArray();
            policies.Add(new Policy($"pol{i}", ns, scope, action, o.DryRun && rng.Next(6) == 0, rules, SourceLocation.None));
        }

        var selectorPolicies = policies.Where(p => p.Scope == PolicyScope.WorkloadSelector).ToList();
        var workloads = workloadsDraft.Select(w => w with
        {
            Services = endpointPorts.TryGetValue(w.Uid, out var l) ? [.. l.OrderBy(x => x.ServiceKey, StringComparer.Ordinal)] : [],
            AuthorizationPolicies = [.. selectorPolicies
                .Where(p => (p.Namespace == w.Namespace || p.Namespace == o.RootNamespace) && rng.Next(2) == 0)
                .Select(p => p.Key).OrderBy(k => k, StringComparer.Ordinal)],
        }).ToImmutableArray();

        if (o.AttachAnyName)
        {
            // An xDS workload may name any policy: namespace- or mesh-scoped ones, selector policies of
            // other namespaces, names that do not exist. Drawn from a generator of its own, after
            // everything else, so the rest of the world is what it was without this option.
            var extra = new Random(rng.Next());
            var names = policies.Where(p => p.Scope != PolicyScope.WorkloadSelector || p.Namespace != o.RootNamespace).Select(p => p.Key)
                .Concat(nsNames.Select(n => $"{n}/missing")).Order(StringComparer.Ordinal).ToList();
            workloads = [.. workloads.Select(w => extra.Next(3) != 0 || names.Count == 0 ? w : w with
            {
                AuthorizationPolicies = [.. w.AuthorizationPolicies.Concat(Enumerable.Range(0, 1 + extra.Next(2)).Select(_ => names[extra.Next(names.Count)]))
                    .Distinct().Order(StringComparer.Ordinal)],
            })];
        }

        return new World(namespaces, nodes, workloads, [.. services], [.. policies]).Canonical();
    }

    private static LoadBalancing RandomLb(Random rng)
    {
        var hp = rng.Next(4) == 0 ? HealthPolicy.AllowAll : HealthPolicy.OnlyHealthy;
        switch (rng.Next(7))
        {
            case 0: return LoadBalancing.Default with { HealthPolicy = hp };
            case 1: return new([LbScope.Node], LbMode.Strict, hp);
            case 2: return new([LbScope.Network, LbScope.Region, LbScope.Zone], LbMode.Failover, hp);
            case 3: return new([LbScope.Network, LbScope.Region, LbScope.Zone, LbScope.Subzone, LbScope.Node], LbMode.Failover, hp);
            case 4: return new([LbScope.Region, LbScope.Zone], (LbMode)rng.Next(1, 3), hp);
            case 5: return new([LbScope.Network, LbScope.Region, LbScope.Zone, LbScope.Subzone, LbScope.Node, LbScope.Cluster], (LbMode)rng.Next(1, 3), hp);
            default: return new([], LbMode.Passthrough, hp);
        }
    }

    private sealed class Ctx(Random rng, WorldGenOptions o, List<string> nsNames, List<Workload> workloads, List<ushort> ports)
    {
        public Rule Rule()
        {
            int n = rng.Next(6) == 0 ? 0 : rng.Next(1, o.MaxClausesPerRule + 1);
            return new Rule([.. Enumerable.Range(0, n).Select(_ => Clause())], SourceLocation.None);
        }

        private Clause Clause()
        {
            int n = rng.Next(8) == 0 ? 0 : rng.Next(1, o.MaxMatchesPerClause + 1);
            return new Clause([.. Enumerable.Range(0, n).Select(_ => Match())], SourceLocation.None);
        }

        private Match Match()
        {
            if (rng.Next(10) == 0) return Ir.Match.Empty(SourceLocation.None);
            var m = Ir.Match.Empty(SourceLocation.None);
            // At least one field; each field independently with a small probability.
            int fields = 0;
            if (o.IdentityHeavy && rng.Next(3) != 0) return IdentityMatch(m);
            while (fields == 0)
            {
                if (P(5)) { m = m with { Namespaces = List(NsMatch) }; fields++; }
                if (P(8)) { m = m with { NotNamespaces = List(NsMatch) }; fields++; }
                if (P(5)) { m = m with { Principals = List(PrincipalMatch) }; fields++; }
                if (P(8)) { m = m with { NotPrincipals = List(PrincipalMatch) }; fields++; }
                if (P(4)) { m = m with { SourceIps = List(Prefix) }; fields++; }
                if (P(8)) { m = m with { NotSourceIps = List(Prefix) }; fields++; }
                if (P(7)) { m = m with { DestinationIps = List(Prefix) }; fields++; }
                if (P(10)) { m = m with { NotDestinationIps = List(Prefix) }; fields++; }
                if (P(3)) { m = m with { DestinationPorts = List(Port) }; fields++; }
                if (P(7)) { m = m with { NotDestinationPorts = List(Port) }; fields++; }
                if (P(6)) { m = m with { ServiceAccounts = List(Sa) }; fields++; }
                if (P(10)) { m = m with { NotServiceAccounts = List(Sa) }; fields++; }
            }
            return m;
        }

        /// <summary>A match on identity alone, in the shapes real policies use: whole-mesh wildcards
        /// (principals or notPrincipals "*", namespaces "*"), namespace globs, exact principals,
        /// negations, sometimes with a port.</summary>
        private Match IdentityMatch(Match m)
        {
            var any = new StringMatch(StringMatchKind.Presence, "");
            m = rng.Next(9) switch
            {
                0 => m with { NotPrincipals = [any] },
                1 => m with { Principals = [any] },
                2 => m with { Namespaces = [any] },
                3 => m with { Namespaces = [new StringMatch(StringMatchKind.Prefix, nsNames[rng.Next(nsNames.Count)][..2])] },
                4 => m with { NotNamespaces = List(NsMatch) },
                5 => m with { Principals = List(() => new StringMatch(StringMatchKind.Exact, AnyWorkload().Identity.ToString())) },
                6 => m with { NotPrincipals = List(PrincipalMatch) },
                7 => m with { Namespaces = [new StringMatch(StringMatchKind.Exact, nsNames[rng.Next(nsNames.Count)])], NotPrincipals = List(PrincipalMatch) },
                _ => m with { ServiceAccounts = List(Sa), NotNamespaces = List(NsMatch) },
            };
            if (P(3)) m = m with { DestinationPorts = List(Port) };
            return m;
        }

        private bool P(int oneIn) => rng.Next(oneIn) == 0;

        private ImmutableArray<T> List<T>(Func<T> item)
        {
            int n = rng.Next(1, o.MaxListLength + 1);
            return [.. Enumerable.Range(0, n).Select(_ => item())];
        }

        private Workload AnyWorkload() => workloads[rng.Next(workloads.Count)];

        private StringMatch Str(string value)
        {
            switch (rng.Next(8))
            {
                case 0: return new StringMatch(StringMatchKind.Presence, "");
                case 1: return new StringMatch(StringMatchKind.Prefix, value[..rng.Next(0, value.Length + 1)]);
                case 2: return new StringMatch(StringMatchKind.Suffix, value[rng.Next(0, value.Length + 1)..]);
                default: return new StringMatch(StringMatchKind.Exact, value);
            }
        }

        private StringMatch NsMatch() => Str(rng.Next(6) == 0 ? "nope" : nsNames[rng.Next(nsNames.Count)]);

        private StringMatch PrincipalMatch() =>
            Str(rng.Next(8) == 0 ? "cluster.local/ns/x/sa/y" : AnyWorkload().Identity.ToString());

        private ServiceAccountMatch Sa()
        {
            var w = AnyWorkload();
            return rng.Next(5) == 0 ? new ServiceAccountMatch(w.Namespace, "nobody") : new ServiceAccountMatch(w.Namespace, w.ServiceAccount);
        }

        private uint Port() => rng.Next(10) == 0 ? (uint)rng.Next(1, 65536) : ports[rng.Next(ports.Count)];

        private IpPrefix Prefix()
        {
            var w = AnyWorkload();
            if (w.Addresses.IsEmpty || rng.Next(10) == 0)
                return rng.Next(2) == 0 ? new IpPrefix(IpAddr.V4(0), 0) : new IpPrefix(new IpAddr(0, true), 0);
            var a = w.Addresses[rng.Next(w.Addresses.Length)];
            int len = rng.Next(3) switch
            {
                0 => a.Bits,
                1 => a.IsV6 ? rng.Next(64, 129) : rng.Next(8, 33),
                _ => a.IsV6 ? rng.Next(0, 129) : rng.Next(0, 33),
            };
            return new IpPrefix(a, len); // host bits kept, as istiod does
        }
    }

    /// <summary>A connection biased towards the world: mostly workload addresses and known ports;
    /// the identity is the one the source address resolves to (what the kernel sees), sometimes none
    /// or a foreign one.</summary>
    public static Connection Connection(Random rng, World w)
    {
        IpAddr RandomAddr(bool v6) => v6
            ? new IpAddr(((UInt128)0xfd00_0000_0000_0000UL << 64) | (UInt128)(uint)rng.Next(1, 5000), true)
            : IpAddr.V4(0x0A000000u | (uint)rng.Next(1, 1 << 20));
        IpAddr WorkloadAddr(bool? v6)
        {
            var cands = w.Workloads.SelectMany(x => x.Addresses).Where(a => v6 is null || a.IsV6 == v6).ToList();
            return cands.Count == 0 ? RandomAddr(v6 ?? false) : cands[rng.Next(cands.Count)];
        }
        var dst = rng.Next(10) == 0 ? RandomAddr(rng.Next(2) == 0) : WorkloadAddr(null);
        var src = rng.Next(5) == 0 ? RandomAddr(dst.IsV6) : WorkloadAddr(dst.IsV6);
        var ports = w.Policies.SelectMany(p => p.Rules).SelectMany(r => r.Clauses).SelectMany(c => c.Matches)
            .SelectMany(m => m.DestinationPorts.AddRange(m.NotDestinationPorts)).Where(p => p <= ushort.MaxValue).Distinct().ToList();
        ushort port = ports.Count > 0 && rng.Next(4) != 0 ? (ushort)ports[rng.Next(ports.Count)] : CommonPorts[rng.Next(CommonPorts.Length)];
        var owner = w.Workloads.FirstOrDefault(x => x.Addresses.Contains(src));
        Identity? id = rng.Next(10) switch
        {
            0 => null,
            1 => new Identity("cluster.local", "foreign", "sa"),
            _ => owner?.Identity,
        };
        return new Connection(src, dst, port, id);
    }
}
