using KmeshCompiler.Semantics;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
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
        var capped = new HashSet<string>(StringComparer.Ordinal);
        var serviceIds = ServiceIds(_world.Services.Length * 2);
        var backendIds = BackendIds(_world.Workloads.Length * 2);
        // Endpoints by service key, in uid order: one pass over the workloads, not one per service.
        var members = new Dictionary<string, List<(Workload W, WorkloadServicePorts Entry, int Index)>>(_world.Services.Length, StringComparer.Ordinal);
        int memberCount = 0;
        for (int wi = 0; wi < _world.Workloads.Length; wi++)
        {
            var w = _world.Workloads[wi];
            for (int i = 0; i < w.Services.Length; i++)
            {
                var entry = w.Services[i];
                if (!members.TryGetValue(entry.ServiceKey, out var l)) members[entry.ServiceKey] = l = new();
                else if (l.Count > 0 && ReferenceEquals(l[^1].W, w)) continue; // the first entry for a service counts
                l.Add((w, entry, wi));
                memberCount++;
            }
        }
        // Sized for one endpoint and backend per member and service port (weights above 1 and
        // workloads in several services grow them).
        int expected = memberCount * 2;
        var services = new List<ImageEntry>(_world.Services.Length * 2);
        var endpoints = new List<ImageEntry>(expected);
        var backendEntries = new List<ImageEntry>(expected);
        var vipOwner = new Dictionary<(IpAddr, uint), string>(_world.Services.Length * 2);
        names.EnsureCapacity(names.Count + expected + _world.Services.Length * 2);
        Phase("service membership");
        var workloadKeys = new string?[_world.Workloads.Length];
        // The endpoints of one service, healthy enough, ranked once, best priority first and by uid
        // within a priority (members are in uid order and the sort is stable).
        var ranked = new List<(int Prio, Workload W, WorkloadServicePorts Entry, int Index, uint Slots)>();
        var unranked = new List<(int Prio, Workload W, WorkloadServicePorts Entry, int Index, uint Slots)>();
        var vips = new List<IpAddr>[] { new(), new() };
        var counts = new uint[Layout.Priorities];
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
            bool ranks = lb.Mode is LbMode.Strict or LbMode.Failover;
            int needed = ranks ? (scopes > 0 && lb.RoutingPreference[0] == LbScope.Network ? 2 * scopes : scopes + 1) : 1;
            string key = s.Key;
            if (needed > Layout.Priorities)
            {
                _bag.Add(Codes.TooManyScopes, s.Location, key, scopes, needed, Layout.Priorities);
                continue;
            }
            ranked.Clear();
            unranked.Clear();
            int minPrio = int.MaxValue, maxPrio = int.MinValue;
            if (lb.Mode != LbMode.Passthrough && members.TryGetValue(key, out var ms))
            {
                foreach (var (w, entry, index) in ms)
                {
                    if (w.Health != WorkloadHealth.Healthy && lb.HealthPolicy != HealthPolicy.AllowAll) continue;
                    int prio = ranks ? Priority(lb.RoutingPreference, client, w) : 0;
                    uint weight = w.Capacity == 0 ? 1 : w.Capacity;
                    if (weight > Layout.MaxWeight && capped.Add(w.Uid))
                        _bag.Add(Codes.WeightCapped, w.Location, w.Key, weight, Layout.MaxWeight);
                    unranked.Add((prio, w, entry, index, Math.Min(weight, Layout.MaxWeight)));
                    minPrio = Math.Min(minPrio, prio);
                    maxPrio = Math.Max(maxPrio, prio);
                }
                // Stable by priority: one pass per priority present (at most Layout.Priorities).
                for (int p = minPrio; p <= maxPrio; p++)
                    foreach (var e in unranked) if (e.Prio == p) ranked.Add(e);
            }
            // The VIPs of each family, distinct and in order, shared by every port of the service.
            vips[0].Clear();
            vips[1].Clear();
            foreach (var a in s.Addresses) vips[a.Address.IsV6 ? 1 : 0].Add(a.Address);
            foreach (var l in vips)
                if (l.Count > 1)
                {
                    l.Sort();
                    int n = 1;
                    for (int i = 1; i < l.Count; i++) if (l[i] != l[n - 1]) l[n++] = l[i];
                    l.RemoveRange(n, l.Count - n);
                }
            foreach (var sp in PortsInOrder(s.Ports))
            {
                for (int fam = 0; fam < 2; fam++)
                {
                    bool v6 = fam == 1;
                    var familyVips = vips[fam];
                    if (familyVips.Count == 0) continue;
                    string serviceName = string.Concat(key, ":", sp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), v6 ? "/v6" : "/v4");
                    uint id = serviceIds.Number(serviceName);
                    names[(NameKind.Service, id)] = serviceName;
                    System.Array.Clear(counts);
                    foreach (var (prio, w, entry, index, slots) in ranked)
                    {
                        IpAddr? addr = null;
                        foreach (var a in w.Addresses) if (a.IsV6 == v6) { addr = a; break; }
                        if (addr is null) continue;
                        ServicePort? wp = null;
                        foreach (var p in entry.Ports) if (p.Port == sp.Port) { wp = p; break; }
                        uint target = wp is { TargetPort: > 0 } ? wp.TargetPort : sp.TargetPort > 0 ? sp.TargetPort : sp.Port;
                        int before = backendIds.Count;
                        uint bid = backendIds.Number((addr.Value, target));
                        if (backendIds.Count > before)
                            backendEntries.Add(new ImageEntry(Rows.U32(bid), Rows.Bytes(Rows.Backend(addr.Value, target))));
                        for (uint k = 0; k < slots; k++)
                            endpoints.Add(new ImageEntry(
                                Rows.Bytes(new KmeshEndpointKey { ServiceId = id, Priority = (uint)prio, Index = counts[prio]++ }),
                                Rows.U32(bid)));
                    }
                    var value = Rows.Bytes(Rows.Service(id, mode, counts));
                    foreach (var vip in familyVips)
                    {
                        if (vipOwner.TryGetValue((vip, sp.Port), out var first))
                        {
                            _bag.Add(Codes.ServiceAddressClash, s.Location, vip, sp.Port, key, first);
                            continue;
                        }
                        vipOwner[(vip, sp.Port)] = key;
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
            ImageSection.For(Layout.Map(Layout.MapBackends), backendEntries),
        ];
    }

    /// <summary>Service ids by "namespace/hostname:port/v4|v6", numbered in the order of the services,
    /// their ports and families.</summary>
    private static StableIds<string> ServiceIds(int capacity) =>
        new(name => StableIds<string>.Hash(System.Text.Encoding.UTF8.GetBytes(name)), StringComparer.Ordinal, capacity);

    /// <summary>Backend ids by (workload address, target port), numbered in the order of first use.</summary>
    private static StableIds<(IpAddr, uint)> BackendIds(int capacity) => new(b =>
    {
        Span<byte> key = stackalloc byte[21];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(key, b.Item1.Value);
        key[16] = b.Item1.IsV6 ? (byte)1 : (byte)0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(key[17..], b.Item2);
        return StableIds<string>.Hash(key);
    }, null, capacity);

    /// <summary>The service's ports, the first of each port number, by port number.</summary>
    private static List<ServicePort> PortsInOrder(ImmutableArray<ServicePort> ports)
    {
        var result = new List<ServicePort>(ports.Length);
        foreach (var p in ports)
        {
            bool seen = false;
            foreach (var q in result) if (q.Port == p.Port) { seen = true; break; }
            if (seen) continue;
            int at = result.Count;
            while (at > 0 && result[at - 1].Port > p.Port) at--;
            result.Insert(at, p);
        }
        return result;
    }

    /// <summary>Priority R − rank of an endpoint seen from the client node (semantics.md §4).</summary>
    public static int Priority(ImmutableArray<LbScope> scopes, Node client, Workload w)
    {
        int max = scopes.Length > 0 && scopes[0] == LbScope.Network ? 2 * scopes.Length - 1 : scopes.Length;
        return max - LoadBalancer.Rank(scopes, client, w).Rank;
    }
}
