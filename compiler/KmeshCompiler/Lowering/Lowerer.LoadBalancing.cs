using KmeshCompiler.Semantics;
using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

public sealed partial class Lowerer
{
    /// <summary>Service tables relative to the node (semantics.md §4): one service id per (service,
    /// port, address family); healthy endpoints grouped by priority R − rank (all in priority 0 for
    /// UNSPECIFIED; none for PASSTHROUGH), each repeated min(capacity, KMESH_MAX_WEIGHT) times. An
    /// endpoint's address is its first address of the VIP's family; a workload without one is not
    /// reachable through VIPs of that family.</summary>
    private List<ImageSection> LowerLoadBalancing(Dictionary<(NameKind, uint), string> names)
    {
        var client = _world.Nodes.FirstOrDefault(n => n.Name == _node) ?? new Node(_node, Locality.Empty, "", SourceLocation.None);
        var services = new List<ImageEntry>();
        var endpoints = new List<ImageEntry>();
        var backends = new List<KmeshBackend>();
        var backendIndex = new Dictionary<(IpAddr, uint), uint>();
        var vipOwner = new Dictionary<(IpAddr, uint), string>();
        var capped = new HashSet<string>(StringComparer.Ordinal);
        uint sid = 0;
        // Endpoints by service key, in uid order: one pass over the workloads, not one per service.
        var members = new Dictionary<string, List<(Workload W, WorkloadServicePorts Entry)>>(StringComparer.Ordinal);
        foreach (var w in _world.Workloads)
            for (int i = 0; i < w.Services.Length; i++)
            {
                var entry = w.Services[i];
                if (!members.TryGetValue(entry.ServiceKey, out var l)) members[entry.ServiceKey] = l = new();
                else if (l.Count > 0 && ReferenceEquals(l[^1].W, w)) continue; // the first entry for a service counts
                l.Add((w, entry));
            }
        Phase("service membership");
        var workloadKeys = new Dictionary<Workload, string>(ReferenceEqualityComparer.Instance);
        foreach (var s in _world.Services)
        {
            var lb = s.LoadBalancing;
            uint mode = lb.Mode switch
            {
                LbMode.Strict => Layout.LbStrict,
                LbMode.Failover => Layout.LbFailover,
                LbMode.Passthrough => Layout.LbPassthrough,
                _ => Layout.LbUnspecified,
            };
            int scopes = lb.RoutingPreference.Length;
            int needed = lb.Mode is LbMode.Strict or LbMode.Failover ? (scopes > 0 && lb.RoutingPreference[0] == LbScope.Network ? 2 * scopes : scopes + 1) : 1;
            if (needed > Layout.Priorities)
            {
                _bag.Add(Codes.TooManyScopes, s.Location, s.Key, scopes, needed, Layout.Priorities);
                continue;
            }
            // The endpoints of the service, healthy enough, ranked once, best priority first and by
            // uid within a priority (members are in uid order and the sort is stable).
            var ranked = new List<(int Prio, Workload W, WorkloadServicePorts Entry, uint Slots)>();
            if (lb.Mode != LbMode.Passthrough && members.TryGetValue(s.Key, out var ms))
            {
                foreach (var (w, entry) in ms)
                {
                    if (w.Health != WorkloadHealth.Healthy && lb.HealthPolicy != HealthPolicy.AllowAll) continue;
                    int prio = lb.Mode is LbMode.Strict or LbMode.Failover ? Priority(lb.RoutingPreference, client, w) : 0;
                    uint weight = w.Capacity == 0 ? 1 : w.Capacity;
                    if (weight > Layout.MaxWeight && capped.Add(w.Uid))
                        _bag.Add(Codes.WeightCapped, w.Location, w.Key, weight, Layout.MaxWeight);
                    ranked.Add((prio, w, entry, Math.Min(weight, Layout.MaxWeight)));
                }
                ranked = [.. ranked.OrderBy(e => e.Prio)];
            }
            foreach (var sp in s.Ports.DistinctBy(p => p.Port).OrderBy(p => p.Port))
            {
                foreach (bool v6 in new[] { false, true })
                {
                    var vips = s.Addresses.Where(a => a.Address.IsV6 == v6).Select(a => a.Address).Distinct().Order().ToList();
                    if (vips.Count == 0) continue;
                    uint id = sid++;
                    names[(NameKind.Service, id)] = $"{s.Key}:{sp.Port}/{(v6 ? "v6" : "v4")}";
                    var counts = new uint[Layout.Priorities];
                    foreach (var (prio, w, entry, slots) in ranked)
                    {
                        IpAddr? addr = null;
                        foreach (var a in w.Addresses) if (a.IsV6 == v6) { addr = a; break; }
                        if (addr is null) continue;
                        ServicePort? wp = null;
                        foreach (var p in entry.Ports) if (p.Port == sp.Port) { wp = p; break; }
                        uint target = wp is { TargetPort: > 0 } ? wp.TargetPort : sp.TargetPort > 0 ? sp.TargetPort : sp.Port;
                        if (!backendIndex.TryGetValue((addr.Value, target), out uint bid))
                        {
                            bid = (uint)backends.Count;
                            backends.Add(Rows.Backend(addr.Value, target));
                            backendIndex[(addr.Value, target)] = bid;
                            names[(NameKind.Backend, bid)] = workloadKeys.TryGetValue(w, out var wk) ? wk : workloadKeys[w] = w.Key;
                        }
                        for (uint k = 0; k < slots; k++)
                            endpoints.Add(new ImageEntry(
                                Rows.Bytes(new KmeshEndpointKey { ServiceId = id, Priority = (uint)prio, Index = counts[prio]++ }),
                                Rows.U32(bid)));
                    }
                    var value = Rows.Bytes(Rows.Service(id, mode, counts));
                    foreach (var vip in vips)
                    {
                        if (vipOwner.TryGetValue((vip, sp.Port), out var first))
                        {
                            _bag.Add(Codes.ServiceAddressClash, s.Location, vip, sp.Port, s.Key, first);
                            continue;
                        }
                        vipOwner[(vip, sp.Port)] = s.Key;
                        services.Add(new ImageEntry(Rows.Bytes(Rows.SvcKey(vip, sp.Port)), value));
                    }
                }
            }
        }
        Phase("endpoint choice");
        return
        [
            ImageSection.For(Layout.Map(Layout.MapServices), services),
            ImageSection.For(Layout.Map(Layout.MapEndpoints), endpoints),
            Array(Layout.MapBackends, backends.Select(Rows.Bytes)),
        ];
    }

    /// <summary>Priority R − rank of an endpoint seen from the client node (semantics.md §4).</summary>
    public static int Priority(ImmutableArray<LbScope> scopes, Node client, Workload w)
    {
        int max = scopes.Length > 0 && scopes[0] == LbScope.Network ? 2 * scopes.Length - 1 : scopes.Length;
        return max - LoadBalancer.Rank(scopes, client, w).Rank;
    }
}
