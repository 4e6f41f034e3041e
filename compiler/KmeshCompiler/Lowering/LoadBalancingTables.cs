using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>The service tables of one node's image (semantics.md §4, docs/dataplane-layout.md "Load
/// balancing"), computed service by service so that an update recomputes only the services it
/// touches (docs/incremental.md). <see cref="Build"/> computes every service; <see cref="Update"/>
/// brings the tables of the previous world to a new one and gives exactly what <see cref="Build"/>
/// would, or null when it cannot (the caller builds).</summary>
internal sealed class LoadBalancingTables
{
    /// <summary>One (service, port, family): its name (what its id is the hash of), mode, slots per
    /// priority, VIPs, and each slot's backend (address, target port), before ids are given.</summary>
    private sealed record PortOut(string Name, uint Mode, uint[] Counts, IpAddr[] Vips, uint Port, List<(int Prio, uint Index, (IpAddr, uint) Backend)> Slots);

    /// <summary>One service: its ports, its own diagnostics, and the members whose weight was capped (in member order).</summary>
    private sealed record ServiceOut(Service Service, List<PortOut> Ports, List<Diagnostic> Own, List<Workload> Capped);

    private readonly string _node;
    private ImmutableArray<Service> _services;
    private ImmutableArray<Workload> _workloads;
    private Node _client;
    private readonly Dictionary<string, List<(Workload W, WorkloadServicePorts Entry)>> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServiceOut> _out = new(StringComparer.Ordinal);
    private readonly StableIds<string> _sids;
    private readonly StableIds<(IpAddr, uint)> _bids;
    private readonly Dictionary<(IpAddr, uint), int> _backendUses = new();
    /// <summary>The target ports of each backend address.</summary>
    private readonly Dictionary<IpAddr, SortedSet<uint>> _serves = new();
    /// <summary>Who claims each (VIP, port): the first service in order owns it, the others clash.</summary>
    private readonly Dictionary<(IpAddr, uint), SortedSet<string>> _claims = new();
    /// <summary>Services with diagnostics of their own, capped members or a lost claim.</summary>
    private readonly SortedSet<string> _noisy = new(StringComparer.Ordinal);
    private ImageSection _serviceRows = null!, _endpointRows = null!, _backendRows = null!;

    public Dictionary<(NameKind, uint), string> Names { get; } = new();
    public List<ImageSection> Sections { get; private set; } = [];
    public List<Diagnostic> Diagnostics { get; private set; } = [];

    private LoadBalancingTables(string node, int services, int workloads)
    {
        _node = node;
        _client = null!;
        _sids = new(name => StableIds<string>.Hash(System.Text.Encoding.UTF8.GetBytes(name)), StringComparer.Ordinal, services * 2);
        _bids = new(b =>
        {
            Span<byte> key = stackalloc byte[21];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(key, b.Item1.Value);
            key[16] = b.Item1.IsV6 ? (byte)1 : (byte)0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(key[17..], b.Item2);
            return StableIds<string>.Hash(key);
        }, null, workloads * 2);
    }

    private static Node ClientOf(World w, string node) =>
        w.Nodes.FirstOrDefault(n => n.Name == node) ?? new Node(node, Locality.Empty, "", SourceLocation.None);

    /// <summary>The tables of every service of <paramref name="w"/> seen from <paramref name="node"/>.
    /// Service ids are numbered in the order of the services, their ports and families; backend ids in
    /// the order of first use.</summary>
    public static LoadBalancingTables Build(World w, string node)
    {
        var t = new LoadBalancingTables(node, w.Services.Length, w.Workloads.Length)
        {
            _services = w.Services, _workloads = w.Workloads, _client = ClientOf(w, node),
        };
        foreach (var wl in w.Workloads) t.Join(wl);
        var services = new List<ImageEntry>(w.Services.Length * 2);
        var endpoints = new List<ImageEntry>();
        var backends = new List<ImageEntry>();
        foreach (var s in w.Services)
        {
            var o = t.Compute(s);
            t._out[s.Key] = o;
            foreach (var p in o.Ports)
            {
                uint sid = t._sids.Number(p.Name);
                t.Names[(NameKind.Service, sid)] = p.Name;
                foreach (var (_, _, b) in p.Slots)
                {
                    int before = t._bids.Count;
                    uint bid = t._bids.Number(b);
                    if (t._bids.Count > before)
                    {
                        backends.Add(BackendRow(bid, b));
                        t.Serve(b, true);
                    }
                    t._backendUses[b] = t._backendUses.GetValueOrDefault(b) + 1;
                }
                endpoints.AddRange(t.EndpointRows(p));
            }
            t.Claim(o, +1);
            if (o.Own.Count > 0 || o.Capped.Count > 0) t._noisy.Add(s.Key);
        }
        foreach (var ((vip, port), claimants) in t._claims)
        {
            if (claimants.Count > 1) foreach (var k in claimants) t._noisy.Add(k);
            services.Add(t.ServiceRow(vip, port, claimants.Min!));
        }
        t._serviceRows = ImageSection.For(Layout.Map(Layout.MapServices), services);
        t._endpointRows = ImageSection.For(Layout.Map(Layout.MapEndpoints), endpoints);
        t._backendRows = ImageSection.For(Layout.Map(Layout.MapBackends), backends);
        t.Finish();
        return t;
    }

    /// <summary>Brings these tables to <paramref name="w"/> by recomputing the services whose
    /// definition or members changed; null when a full <see cref="Build"/> is needed (the client
    /// node changed, many workloads changed, or an id would move). These tables must not be used after.</summary>
    public LoadBalancingTables? Update(World w, int maxChanges = 256)
    {
        if (!ClientOf(w, _node).Equals(_client)) return null;
        if (SortedDiff<Workload>.Of(_workloads, w.Workloads, CanonicalOrder.Workloads, maxChanges) is not { } diff) return null;
        var affected = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var x in diff.Gone) foreach (var key in Keys(x)) affected.Add(key);
        foreach (var x in diff.Come) foreach (var key in Keys(x)) affected.Add(key);
        if (SortedDiff<Service>.Of(_services, w.Services, CanonicalOrder.Services, maxChanges * 4) is not { } services) return null;
        foreach (var x in services.Gone) affected.Add(x.Key);
        foreach (var x in services.Come) affected.Add(x.Key);
        foreach (var x in diff.Gone) Leave(x);
        foreach (var x in diff.Come) Join(x);
        _workloads = w.Workloads;
        _services = w.Services;

        // The new services, symbolically; then the ids that come and go.
        var olds = new Dictionary<string, ServiceOut>(StringComparer.Ordinal);
        var news = new Dictionary<string, ServiceOut>(StringComparer.Ordinal);
        foreach (var key in affected)
        {
            if (_out.TryGetValue(key, out var o)) olds[key] = o;
            if (Find(w.Services, key) is { } s) news[key] = Compute(s);
        }
        var oldNames = olds.Values.SelectMany(o => o.Ports).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var newNames = news.Values.SelectMany(o => o.Ports).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var uses = new Dictionary<(IpAddr, uint), int>();
        foreach (var o in olds.Values) foreach (var p in o.Ports) foreach (var sl in p.Slots) uses[sl.Backend] = uses.GetValueOrDefault(sl.Backend) - 1;
        foreach (var o in news.Values) foreach (var p in o.Ports) foreach (var sl in p.Slots) uses[sl.Backend] = uses.GetValueOrDefault(sl.Backend) + 1;

        // Old rows of the affected services, found by their old ids.
        var goneEndpoints = new List<byte[]>();
        foreach (var o in olds.Values)
            foreach (var p in o.Ports)
                foreach (var row in EndpointRows(p)) goneEndpoints.Add(row.Key);
        var goneBackends = new List<byte[]>();
        var addBackends = new List<ImageEntry>();
        foreach (var n in oldNames.Where(n => !newNames.Contains(n)))
        {
            if (_sids.TryGet(n, out uint sid)) Names.Remove((NameKind.Service, sid));
            if (!_sids.TryRemove(n)) return null;
        }
        foreach (var (b, delta) in uses)
        {
            if (delta == 0) continue;
            int now = _backendUses.GetValueOrDefault(b) + delta;
            if (now == 0)
            {
                if (!_bids.TryGet(b, out uint bid) || !_bids.TryRemove(b)) return null;
                goneBackends.Add(Rows.U32(bid));
                _backendUses.Remove(b);
                Serve(b, false);
            }
            else _backendUses[b] = now;
        }
        foreach (var n in newNames.Where(n => !oldNames.Contains(n)).Order(StringComparer.Ordinal))
            if (!_sids.TryAdd(n, out _)) return null;
        foreach (var (b, delta) in uses)
        {
            if (delta <= 0 || _bids.TryGet(b, out _)) continue;
            if (!_bids.TryAdd(b, out uint bid)) return null;
            addBackends.Add(BackendRow(bid, b));
            Serve(b, true);
        }

        // Claims and service rows.
        var touched = new HashSet<(IpAddr, uint)>();
        foreach (var o in olds.Values) touched.UnionWith(Claim(o, -1));
        foreach (var key in affected) { _out.Remove(key); _noisy.Remove(key); }
        foreach (var (key, o) in news)
        {
            _out[key] = o;
            touched.UnionWith(Claim(o, +1));
            if (o.Own.Count > 0 || o.Capped.Count > 0) _noisy.Add(key);
        }
        var addServices = new List<ImageEntry>();
        foreach (var c in touched)
        {
            if (!_claims.TryGetValue(c, out var claimants)) continue;
            addServices.Add(ServiceRow(c.Item1, c.Item2, claimants.Min!));
        }
        foreach (var c in touched)
            if (_claims.TryGetValue(c, out var claimants) && claimants.Count > 1) foreach (var k in claimants) _noisy.Add(k);
        var addEndpoints = new List<ImageEntry>();
        foreach (var o in news.Values)
            foreach (var p in o.Ports)
            {
                _sids.TryGet(p.Name, out uint sid);
                Names[(NameKind.Service, sid)] = p.Name;
                addEndpoints.AddRange(EndpointRows(p));
            }
        _serviceRows = SortedSplice.Section(_serviceRows, touched.Select(c => Rows.Bytes(Rows.SvcKey(c.Item1, c.Item2))), addServices);
        _endpointRows = SortedSplice.Section(_endpointRows, goneEndpoints, addEndpoints);
        _backendRows = SortedSplice.Section(_backendRows, goneBackends, addBackends);
        Finish();
        return this;
    }

    /// <summary>The service of <paramref name="key"/> in services sorted by key, or null.</summary>
    private static Service? Find(ImmutableArray<Service> services, string key)
    {
        int lo = 0, hi = services.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            int c = string.CompareOrdinal(services[mid].Key, key);
            if (c == 0) return services[mid];
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return null;
    }

    /// <summary>The service keys a workload is a member of (the first entry for a service counts).</summary>
    private static IEnumerable<string> Keys(Workload w) => w.Services.Select(e => e.ServiceKey).Distinct(StringComparer.Ordinal);

    /// <summary>Adds a workload to the members of its services, in uid order.</summary>
    private void Join(Workload w)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in w.Services)
        {
            if (!seen.Add(entry.ServiceKey)) continue;
            if (!_members.TryGetValue(entry.ServiceKey, out var l)) _members[entry.ServiceKey] = l = new();
            int at = l.Count;
            if (at > 0 && string.CompareOrdinal(l[at - 1].W.Uid, w.Uid) > 0)
            {
                int lo = 0, hi = l.Count;
                while (lo < hi)
                {
                    int mid = (lo + hi) / 2;
                    if (string.CompareOrdinal(l[mid].W.Uid, w.Uid) < 0) lo = mid + 1; else hi = mid;
                }
                at = lo;
            }
            l.Insert(at, (w, entry));
        }
    }

    private void Leave(Workload w)
    {
        foreach (var key in Keys(w))
            if (_members.TryGetValue(key, out var l))
            {
                l.RemoveAll(m => ReferenceEquals(m.W, w));
                if (l.Count == 0) _members.Remove(key);
            }
    }

    /// <summary>Adds (+1) or removes (-1) a service's claims on its (VIP, port)s; returns them.</summary>
    private List<(IpAddr, uint)> Claim(ServiceOut o, int sign)
    {
        var result = new List<(IpAddr, uint)>();
        string key = o.Service.Key;
        foreach (var p in o.Ports)
            foreach (var vip in p.Vips)
            {
                var c = (vip, p.Port);
                result.Add(c);
                if (sign > 0)
                {
                    if (!_claims.TryGetValue(c, out var set)) _claims[c] = set = new(StringComparer.Ordinal);
                    set.Add(key);
                }
                else if (_claims.TryGetValue(c, out var set))
                {
                    set.Remove(key);
                    if (set.Count == 0) _claims.Remove(c);
                }
            }
        return result;
    }

    private ImageEntry ServiceRow(IpAddr vip, uint port, string owner)
    {
        var p = _out[owner].Ports.First(x => x.Port == port && x.Vips.Contains(vip));
        _sids.TryGet(p.Name, out uint sid);
        return new ImageEntry(Rows.Bytes(Rows.SvcKey(vip, port)), Rows.Bytes(Rows.Service(sid, p.Mode, p.Counts)));
    }

    private IEnumerable<ImageEntry> EndpointRows(PortOut p)
    {
        _sids.TryGet(p.Name, out uint sid);
        foreach (var (prio, index, b) in p.Slots)
        {
            _bids.TryGet(b, out uint bid);
            yield return new ImageEntry(Rows.Bytes(new KmeshEndpointKey { ServiceId = sid, Priority = (uint)prio, Index = index }), Rows.U32(bid));
        }
    }

    /// <summary>The target ports <paramref name="a"/> serves as a backend (null: none).</summary>
    public IReadOnlySet<uint>? PortsServedBy(IpAddr a) => _serves.GetValueOrDefault(a);

    private void Serve((IpAddr Address, uint Port) b, bool on)
    {
        if (on)
        {
            if (!_serves.TryGetValue(b.Address, out var l)) _serves[b.Address] = l = [];
            l.Add(b.Port);
        }
        else if (_serves.TryGetValue(b.Address, out var l) && l.Remove(b.Port) && l.Count == 0) _serves.Remove(b.Address);
    }

    private static ImageEntry BackendRow(uint bid, (IpAddr Address, uint Port) b) => new(Rows.U32(bid), Rows.Bytes(Rows.Backend(b.Address, b.Port)));

    /// <summary>Sections and diagnostics from the current rows: diagnostics in the order of the
    /// services (a capped workload is reported at its first service only).</summary>
    private void Finish()
    {
        Sections = [_serviceRows, _endpointRows, _backendRows];
        var diagnostics = new List<Diagnostic>();
        var capped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in _noisy)
        {
            if (!_out.TryGetValue(key, out var o)) continue;
            diagnostics.AddRange(o.Own);
            foreach (var w in o.Capped)
                if (capped.Add(w.Uid))
                    diagnostics.Add(Codes.WeightCapped.Create(w.Location, w.Key, w.Capacity == 0 ? 1 : w.Capacity, Layout.MaxWeight));
            foreach (var p in o.Ports)
                foreach (var vip in p.Vips)
                    if (_claims.TryGetValue((vip, p.Port), out var claimants) && claimants.Min != key)
                        diagnostics.Add(Codes.ServiceAddressClash.Create(o.Service.Location, vip, p.Port, key, claimants.Min));
        }
        Diagnostics = diagnostics;
    }

    /// <summary>One service's tables, symbolically: one service id per port and family; healthy
    /// endpoints grouped by priority R − rank (all in priority 0 for UNSPECIFIED; none for
    /// PASSTHROUGH), each repeated min(capacity, KMESH_MAX_WEIGHT) times. An endpoint's address is its
    /// first address of the VIP's family; a workload without one is not reachable through VIPs of
    /// that family.</summary>
    private ServiceOut Compute(Service s)
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
        var own = new List<Diagnostic>();
        var capped = new List<Workload>();
        if (needed > Layout.Priorities)
        {
            own.Add(Codes.TooManyScopes.Create(s.Location, key, scopes, needed, Layout.Priorities));
            return new ServiceOut(s, [], own, capped);
        }
        // Healthy enough endpoints, ranked: best priority first, by uid within a priority.
        var ranked = new List<(int Prio, Workload W, WorkloadServicePorts Entry, uint Slots)>();
        if (lb.Mode != LbMode.Passthrough && _members.TryGetValue(key, out var ms))
        {
            var unranked = new List<(int Prio, Workload W, WorkloadServicePorts Entry, uint Slots)>(ms.Count);
            int minPrio = int.MaxValue, maxPrio = int.MinValue;
            foreach (var (w, entry) in ms)
            {
                if (w.Health != WorkloadHealth.Healthy && lb.HealthPolicy != HealthPolicy.AllowAll) continue;
                int prio = ranks ? Lowerer.Priority(lb.RoutingPreference, _client, w) : 0;
                uint weight = w.Capacity == 0 ? 1 : w.Capacity;
                if (weight > Layout.MaxWeight) capped.Add(w);
                unranked.Add((prio, w, entry, Math.Min(weight, Layout.MaxWeight)));
                minPrio = Math.Min(minPrio, prio);
                maxPrio = Math.Max(maxPrio, prio);
            }
            for (int p = minPrio; p <= maxPrio; p++)
                foreach (var e in unranked) if (e.Prio == p) ranked.Add(e);
        }
        // The VIPs of each family, distinct and in order, shared by every port of the service.
        var vips = new[] { new SortedSet<IpAddr>(), new SortedSet<IpAddr>() };
        foreach (var a in s.Addresses) vips[a.Address.IsV6 ? 1 : 0].Add(a.Address);
        var ports = new List<PortOut>();
        foreach (var sp in Lowerer.PortsInOrder(s.Ports))
            for (int fam = 0; fam < 2; fam++)
            {
                bool v6 = fam == 1;
                if (vips[fam].Count == 0) continue;
                string name = string.Concat(key, ":", sp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), v6 ? "/v6" : "/v4");
                var counts = new uint[Layout.Priorities];
                var slots = new List<(int, uint, (IpAddr, uint))>();
                foreach (var (prio, w, entry, n) in ranked)
                {
                    IpAddr? addr = null;
                    foreach (var a in w.Addresses) if (a.IsV6 == v6) { addr = a; break; }
                    if (addr is null) continue;
                    ServicePort? wp = null;
                    foreach (var p in entry.Ports) if (p.Port == sp.Port) { wp = p; break; }
                    uint target = wp is { TargetPort: > 0 } ? wp.TargetPort : sp.TargetPort > 0 ? sp.TargetPort : sp.Port;
                    for (uint k = 0; k < n; k++) slots.Add((prio, counts[prio]++, (addr.Value, target)));
                }
                ports.Add(new PortOut(name, mode, counts, [.. vips[fam]], sp.Port, slots));
            }
        return new ServiceOut(s, ports, own, capped);
    }
}
