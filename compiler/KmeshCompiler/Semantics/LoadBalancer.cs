using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Semantics;

/// <summary>One endpoint of a service port as seen from a client node. Priority is R − rank (0 is
/// best); Selectable says whether a connect can pick it (kept by the mode and healthy enough).</summary>
public sealed record LbEndpoint(Workload Workload, IpAddr Address, uint Port, int Priority, uint Weight, bool Selectable);

/// <summary>MaxPriority is R, the highest possible rank (priorities run 0..R).</summary>
public sealed record LbResult(LbMode Mode, ImmutableArray<LbEndpoint> Endpoints, int MaxPriority)
{
    public IEnumerable<LbEndpoint> Selectable => Endpoints.Where(e => e.Selectable);
}

/// <summary>Locality-aware endpoint choice, semantics.md §4, relative to a client node.</summary>
public static class LoadBalancer
{
    /// <summary>With six scopes and NETWORK first the ranks run 0..11, so 12 priorities.</summary>
    public const int Priorities = 12;

    public static Node ClientNode(World w, string nodeName) =>
        w.Nodes.FirstOrDefault(n => n.Name == nodeName) ?? new Node(nodeName, Locality.Empty, "", SourceLocation.None);

    public static LbResult Resolve(World world, string clientNode, Service service, uint servicePort) =>
        Resolve(world.Workloads, ClientNode(world, clientNode), service, servicePort);

    public static LbResult Resolve(IEnumerable<Workload> workloads, Node client, Service service, uint servicePort)
    {
        var lb = service.LoadBalancing;
        var scopes = lb.RoutingPreference;
        bool networkFirst = scopes.Length > 0 && scopes[0] == LbScope.Network;
        int len = scopes.Length;
        int r = networkFirst ? 2 * len - 1 : len;
        var svcPort = service.Ports.FirstOrDefault(p => p.Port == servicePort);
        var candidates = new List<(Workload W, uint Port, int Rank, int Count, bool Healthy)>();
        foreach (var w in workloads)
        {
            var entry = w.Services.FirstOrDefault(s => s.ServiceKey == service.Key);
            if (entry is null) continue;
            var wp = entry.Ports.FirstOrDefault(p => p.Port == servicePort);
            if (wp is null && svcPort is null) continue;
            uint target = wp is { TargetPort: > 0 } ? wp.TargetPort : svcPort is { TargetPort: > 0 } ? svcPort.TargetPort : servicePort;
            var (rank, count) = Rank(scopes, client, w);
            bool healthy = w.Health == WorkloadHealth.Healthy || lb.HealthPolicy == HealthPolicy.AllowAll;
            candidates.Add((w, target, rank, count, healthy));
        }
        int best = candidates.Where(c => c.Healthy).Select(c => c.Rank).DefaultIfEmpty(-1).Max();
        var eps = ImmutableArray.CreateBuilder<LbEndpoint>();
        foreach (var c in candidates.OrderBy(c => r - c.Rank).ThenBy(c => c.W.Uid, StringComparer.Ordinal))
        {
            bool keep = c.Healthy && lb.Mode switch
            {
                LbMode.Unspecified => true,
                LbMode.Strict => c.Count == len,
                LbMode.Failover => c.Rank == best,
                _ => false, // PASSTHROUGH: the connection keeps its original destination.
            };
            int prio = lb.Mode is LbMode.Strict or LbMode.Failover ? r - c.Rank : 0;
            var addr = PickAddress(c.W, service);
            if (addr is null) continue;
            eps.Add(new LbEndpoint(c.W, addr.Value, c.Port, prio, c.W.Capacity == 0 ? 1 : c.W.Capacity, keep));
        }
        return new LbResult(lb.Mode, eps.ToImmutable(), lb.Mode is LbMode.Strict or LbMode.Failover ? r : 0);
    }

    /// <summary>Rank and the count of equal scopes, walking the scopes in order (NETWORK first may
    /// be skipped when unequal; any other inequality stops the walk).</summary>
    public static (int Rank, int Count) Rank(ImmutableArray<LbScope> scopes, Node client, Workload w)
    {
        int count = 0;
        bool networkFirst = scopes.Length > 0 && scopes[0] == LbScope.Network;
        bool networkEqual = false;
        for (int i = 0; i < scopes.Length; i++)
        {
            bool eq = scopes[i] switch
            {
                LbScope.Region => w.Locality.Region == client.Locality.Region,
                LbScope.Zone => w.Locality.Zone == client.Locality.Zone,
                LbScope.Subzone => w.Locality.Subzone == client.Locality.Subzone,
                LbScope.Node => w.Node == client.Name,
                LbScope.Cluster => w.ClusterId == Workload.DefaultClusterId,
                LbScope.Network => w.Network == client.Network,
                _ => false,
            };
            if (eq)
            {
                count++;
                if (i == 0 && networkFirst) networkEqual = true;
            }
            else if (scopes[i] == LbScope.Network && i == 0) continue;
            else break;
        }
        int rank = networkFirst && networkEqual ? count + scopes.Length - 1 : count;
        return (rank, count);
    }

    /// <summary>The endpoint address of the service's family: IPv4 when the service has an IPv4
    /// address (or none), else IPv6; falls back to the workload's first address.</summary>
    public static IpAddr? PickAddress(Workload w, Service s)
    {
        if (w.Addresses.IsEmpty) return null;
        bool wantV6 = s.Addresses.Length > 0 && s.Addresses.All(a => a.Address.IsV6);
        foreach (var a in w.Addresses) if (a.IsV6 == wantV6) return a;
        return w.Addresses[0];
    }
}
