using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Support;

/// <summary>Seeded random updates of a world, shaped like what istiod sends: one workload or one
/// policy or one service added, changed or removed per step (and sometimes a burst of several, or
/// nothing). Only the array a step touches is a new object; every other part of the world stays the
/// same object, as the xDS state keeps it. New objects are drawn from a second world of the same
/// generator (the pool), renamed so that keys stay unique.</summary>
public sealed class WorldSteps(Random rng, World pool)
{
    private int _fresh;

    public static readonly string[] Kinds =
        ["pod add", "pod delete", "pod relabel", "pod move", "pod address", "policy add", "policy edit", "policy delete",
         "service add", "service edit", "service delete", "node locality", "burst", "nothing"];

    /// <summary>The next world and what the step did.</summary>
    public (World World, string Kind) Next(World w)
    {
        string kind = Kinds[rng.Next(Kinds.Length)];
        if (kind == "burst")
        {
            int n = rng.Next(2, 5);
            for (int i = 0; i < n; i++) w = Apply(w, Kinds[rng.Next(Kinds.Length - 2)]);
            return (w, kind);
        }
        return (Apply(w, kind), kind);
    }

    private World Apply(World w, string kind)
    {
        int id = ++_fresh;
        switch (kind)
        {
            case "pod add" when pool.Workloads.Length > 0:
            {
                var p = Pick(pool.Workloads);
                var node = w.Nodes.Length > 0 && rng.Next(3) > 0 ? Pick(w.Nodes).Name : p.Node;
                // Sometimes an address another workload already has (ownership by uid decides).
                var other = w.Workloads.Length > 0 ? Pick(w.Workloads) : null;
                ImmutableArray<IpAddr> addrs = rng.Next(6) == 0 && other is { Addresses.IsEmpty: false }
                    ? [other.Addresses[0]]
                    : rng.Next(4) == 0 ? [Fresh4(id), Fresh6(id)] : [Fresh4(id)];
                var ns = w.Namespaces.Length > 0 ? Pick(w.Namespaces).Name : p.Namespace;
                var pod = p with
                {
                    Uid = $"Kubernetes//Pod/{ns}/new{id}", Name = $"new{id}", Namespace = ns, Node = node, Addresses = addrs,
                    Services = [.. p.Services.Select(s => s with { ServiceKey = w.Services.Length > 0 && rng.Next(3) > 0 ? Pick(w.Services).Key : s.ServiceKey }).DistinctBy(s => s.ServiceKey).OrderBy(s => s.ServiceKey, StringComparer.Ordinal)],
                };
                return w with { Workloads = SortedByUid(w.Workloads.Add(pod)) };
            }
            case "pod delete" when w.Workloads.Length > 1:
                return w with { Workloads = w.Workloads.RemoveAt(rng.Next(w.Workloads.Length)) };
            case "pod relabel" when w.Workloads.Length > 0:
            {
                // What a label change does on the wire: the services that select it and the
                // selector policies attached to it change.
                int i = rng.Next(w.Workloads.Length);
                var x = w.Workloads[i];
                var services = w.Services.Where(_ => rng.Next(4) == 0).Take(3)
                    .Select(s => new WorkloadServicePorts(s.Key, [.. s.Ports.Select(p => rng.Next(3) == 0 ? p with { TargetPort = (uint)(9200 + rng.Next(5)) } : p)]))
                    .ToImmutableArray();
                var attached = w.Policies.Where(p => p.Scope == PolicyScope.WorkloadSelector && rng.Next(3) == 0).Select(p => p.Key).Order(StringComparer.Ordinal).ToImmutableArray();
                return w with { Workloads = w.Workloads.SetItem(i, x with { Services = services, AuthorizationPolicies = attached, Health = rng.Next(5) == 0 ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy, Capacity = rng.Next(6) == 0 ? 20u : x.Capacity }) };
            }
            case "pod move" when w.Workloads.Length > 0 && w.Nodes.Length > 0:
            {
                int i = rng.Next(w.Workloads.Length);
                var n = Pick(w.Nodes);
                return w with { Workloads = w.Workloads.SetItem(i, w.Workloads[i] with { Node = n.Name, Locality = n.Locality }) };
            }
            case "pod address" when w.Workloads.Length > 0:
            {
                int i = rng.Next(w.Workloads.Length);
                return w with { Workloads = w.Workloads.SetItem(i, w.Workloads[i] with { Addresses = rng.Next(3) == 0 ? [] : [Fresh4(id)], ServiceAccount = rng.Next(2) == 0 ? $"sa-new{id % 3}" : w.Workloads[i].ServiceAccount }) };
            }
            case "policy add" when pool.Policies.Length > 0:
            {
                var p = Pick(pool.Policies);
                var ns = w.Namespaces.Length > 0 && rng.Next(4) > 0 ? Pick(w.Namespaces).Name : p.Namespace;
                return w with { Policies = SortedByKey(w.Policies.Add(p with { Name = $"added{id}", Namespace = ns })) };
            }
            case "policy edit" when w.Policies.Length > 0 && pool.Policies.Length > 0:
            {
                int i = rng.Next(w.Policies.Length);
                var p = w.Policies[i];
                var donor = Pick(pool.Policies);
                var edited = rng.Next(3) switch
                {
                    0 => p with { Rules = donor.Rules },
                    1 => p with { Action = p.Action == PolicyAction.Allow ? PolicyAction.Deny : PolicyAction.Allow },
                    _ => p with { Rules = p.Rules.IsEmpty ? donor.Rules : p.Rules.RemoveAt(rng.Next(p.Rules.Length)) },
                };
                return w with { Policies = w.Policies.SetItem(i, edited) };
            }
            case "policy delete" when w.Policies.Length > 0:
                return w with { Policies = w.Policies.RemoveAt(rng.Next(w.Policies.Length)) };
            case "service add" when pool.Services.Length > 0:
            {
                var s = Pick(pool.Services);
                var ns = w.Namespaces.Length > 0 ? Pick(w.Namespaces).Name : s.Namespace;
                var svc = s with
                {
                    Name = $"added{id}", Namespace = ns, Hostname = $"added{id}.{ns}.svc.cluster.local",
                    // Sometimes a VIP another service has (the first service by name keeps it).
                    Addresses = rng.Next(5) == 0 && w.Services.Length > 0 && !Pick(w.Services).Addresses.IsEmpty
                        ? [w.Services[rng.Next(w.Services.Length)].Addresses.FirstOrDefault() ?? new NetworkAddress("", IpAddr.V4(0x0A610000u | (uint)id))]
                        : [new NetworkAddress("", IpAddr.V4(0x0A610000u | (uint)id))],
                };
                return w with { Services = SortedByKey(w.Services.Add(svc)) };
            }
            case "service edit" when w.Services.Length > 0 && pool.Services.Length > 0:
            {
                int i = rng.Next(w.Services.Length);
                var donor = Pick(pool.Services);
                return w with { Services = w.Services.SetItem(i, w.Services[i] with { LoadBalancing = donor.LoadBalancing, Ports = rng.Next(2) == 0 ? donor.Ports : w.Services[i].Ports }) };
            }
            case "service delete" when w.Services.Length > 0:
                return w with { Services = w.Services.RemoveAt(rng.Next(w.Services.Length)) };
            case "node locality" when w.Nodes.Length > 0:
            {
                int i = rng.Next(w.Nodes.Length);
                return w with { Nodes = w.Nodes.SetItem(i, w.Nodes[i] with { Locality = new Locality($"region{rng.Next(2)}", $"zone{rng.Next(3)}", "") }) };
            }
        }
        return w;
    }

    private T Pick<T>(ImmutableArray<T> a) => a[rng.Next(a.Length)];

    private static IpAddr Fresh4(int id) => IpAddr.V4(0x0AC80000u | (uint)(id & 0xffff));

    private static IpAddr Fresh6(int id) => new(((UInt128)0xfd00_00c8_0000_0000UL << 64) | (UInt128)(uint)id, true);

    private static ImmutableArray<Workload> SortedByUid(ImmutableArray<Workload> a) => a.Sort((x, y) => string.CompareOrdinal(x.Uid, y.Uid));

    private static ImmutableArray<Policy> SortedByKey(ImmutableArray<Policy> a) => a.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));

    private static ImmutableArray<Service> SortedByKey(ImmutableArray<Service> a) => a.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
}
