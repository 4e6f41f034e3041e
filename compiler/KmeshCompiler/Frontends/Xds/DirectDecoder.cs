using System.Collections.Immutable;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>The one decoder of xDS resources: Address / Workload / Authorization bytes → IR in one
/// pass, with ztunnel's leniency (xds.md, "Snapshot files"): a StringMatch with no variant and a match
/// Address with a bad length are dropped with a warning; an unknown Scope/Action value, a workload or
/// service address that is not 4 or 16 bytes, and an UNSPECIFIED_SCOPE routing preference reject the
/// one resource (null is returned, with an error). Other enums read an unknown value as their default,
/// as a prost accessor does, with a warning. Binary snapshots, JSON snapshots (their messages
/// re-encoded) and the xDS stream all come through here.
///
/// It reads the wire without building the generated message objects first (on large snapshots they
/// cost more than the IR itself), following the generated parsers field by field: a singular message
/// seen twice is merged, a oneof keeps its last case, a wrapper keeps a non-zero value, a map keeps the
/// position of a key's first entry. The differential tests hold it to the generated parsers on
/// generated, mutated and random input.</summary>
internal static class DirectDecoder
{
    // ---- istio.workload.Address / Workload ---------------------------------------------------

    private sealed class WorkloadDraft
    {
        public string Uid = "", Name = "", Namespace = "", Network = "", TrustDomain = "", ServiceAccount = "", Node = "", ClusterId = "";
        public List<IpAddr>? Addresses;
        public int BadAddressLength = -1;
        public int Status;
        public string[]? Locality; // region, zone, subzone
        public uint? Capacity;
        public int NetworkMode, TunnelProtocol;
        public List<string>? ServiceKeys;
        public List<List<Port>>? ServicePorts;
        public List<string>? Policies;
    }

    private readonly record struct Port(uint ServicePort, uint TargetPort, int AppProtocol);

    private sealed class ServiceDraft
    {
        public string Name = "", Namespace = "", Hostname = "";
        public List<(string Network, IpAddr Address)> Addresses = [];
        public int BadAddressLength = -1;
        public List<Port> Ports = [];
        public bool HasLb;
        public List<int> Prefs = [];
        public int Mode, Health;
    }

    /// <summary>Decodes an istio.workload.Address: the workload or service it holds, or null when it is
    /// rejected (with an error in the bag).</summary>
    public static object? Address(ReadOnlySpan<byte> bytes, string name, bool namedByPosition, ResourceReader reader, DiagnosticBag bag)
    {
        var r = new WireReader(bytes);
        WorkloadDraft? w = null;
        ServiceDraft? s = null;
        while (r.Next(out int f, out int wire))
        {
            if (f == 1 && wire == 2) { s = null; w ??= new WorkloadDraft(); MergeWorkload(r.Bytes(), w, reader.Strings); }
            else if (f == 2 && wire == 2) { w = null; s ??= new ServiceDraft(); MergeService(r.Bytes(), s, reader.Strings); }
            else r.Skip(f, wire);
        }
        if (w is not null) return ToWorkload(w, name, namedByPosition, reader, bag);
        if (s is not null)
        {
            string n = namedByPosition && s.Hostname.Length > 0 ? $"{s.Namespace}/{s.Hostname}" : name;
            return ToService(s, reader.Location(n), bag);
        }
        bag.Report(Codes.XdsMissingName, reader.Location(name), "an Address holds neither a workload nor a service");
        return null;
    }

    /// <summary>Decodes a bare istio.workload.Workload (null when it is rejected).</summary>
    public static Workload? Workload(ReadOnlySpan<byte> bytes, string name, bool namedByPosition, ResourceReader reader, DiagnosticBag bag)
    {
        var w = new WorkloadDraft();
        MergeWorkload(bytes, w, reader.Strings);
        return ToWorkload(w, name, namedByPosition, reader, bag);
    }

    /// <summary>A workload is keyed by its uid, or by the resource name when it has none.</summary>
    private static Workload? ToWorkload(WorkloadDraft w, string name, bool namedByPosition, ResourceReader reader, DiagnosticBag bag)
    {
        string n = namedByPosition && w.Uid.Length > 0 ? w.Uid : name;
        return ToWorkload(w, namedByPosition ? "" : name, reader.Location(n), bag);
    }

    private static void MergeWorkload(ReadOnlySpan<byte> bytes, WorkloadDraft w, StringPool pool)
    {
        var r = new WireReader(bytes);
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case (20, 2): w.Uid = r.String(); break;
                case (1, 2): w.Name = r.String(); break;
                case (2, 2): w.Namespace = r.String(pool); break;
                case (3, 2):
                    {
                        var a = r.Bytes();
                        if (a.Length is 4 or 16) (w.Addresses ??= []).Add(IpAddr.FromBytes(a));
                        else if (w.BadAddressLength < 0) w.BadAddressLength = a.Length;
                        break;
                    }
                case (4, 2): w.Network = r.String(pool); break;
                case (6, 2): w.TrustDomain = r.String(pool); break;
                case (7, 2): w.ServiceAccount = r.String(pool); break;
                case (9, 2): w.Node = r.String(pool); break;
                case (16, 2): (w.Policies ??= []).Add(r.String(pool)); break;
                case (17, 0): w.Status = r.Enum(); break;
                case (5, 0): w.TunnelProtocol = r.Enum(); break;
                case (25, 0): w.NetworkMode = r.Enum(); break;
                case (18, 2): w.ClusterId = r.String(pool); break;
                case (22, 2): MapEntry(r.Bytes(), w, pool); break;
                case (24, 2):
                    {
                        w.Locality ??= ["", "", ""];
                        var l = new WireReader(r.Bytes());
                        while (l.Next(out int lf, out int lw))
                        {
                            if (lf is >= 1 and <= 3 && lw == 2) w.Locality[lf - 1] = l.String(pool);
                            else l.Skip(lf, lw);
                        }
                        break;
                    }
                case (27, 2):
                    {
                        uint v = 0;
                        var c = new WireReader(r.Bytes());
                        while (c.Next(out int cf, out int cw))
                        {
                            if (cf == 1 && cw == 0) v = c.UInt32();
                            else if (cw is 6 or 7) continue; // Google.Protobuf's wrapper parser skips nothing for these
                            else c.Skip(cf, cw);
                        }
                        if (w.Capacity is null || v != 0) w.Capacity = v;
                        break;
                    }
                case (8, 2) or (19, 2): WireReader.Validate(r.Bytes(), Schema.GatewayAddress); break;
                case (23, 2): WireReader.Validate(r.Bytes(), Schema.Scalars); break;
                case (26, 2): WireReader.Validate(r.Bytes(), Schema.Extension); break;
                default: r.Skip(f, wire); break;
            }
        }
    }

    private static void MapEntry(ReadOnlySpan<byte> entry, WorkloadDraft w, StringPool pool)
    {
        var r = new WireReader(entry);
        string key = "";
        List<Port>? ports = null;
        while (r.Next(out int f, out int wire))
        {
            if (f == 1 && wire == 2) key = r.String(pool);
            else if (f == 2 && wire == 2)
            {
                ports ??= [];
                var pl = new WireReader(r.Bytes());
                while (pl.Next(out int pf, out int pw))
                {
                    if (pf == 1 && pw == 2) ports.Add(ReadPort(pl.Bytes()));
                    else pl.Skip(pf, pw);
                }
            }
            else r.Skip(f, wire);
        }
        ports ??= [];
        // A key seen again keeps its first position (as Google.Protobuf's MapField does); maps hold a
        // handful of services, so a scan beats a dictionary per workload.
        w.ServiceKeys ??= [];
        w.ServicePorts ??= [];
        int at = w.ServiceKeys.IndexOf(key);
        if (at >= 0) w.ServicePorts[at] = ports;
        else
        {
            w.ServiceKeys.Add(key);
            w.ServicePorts.Add(ports);
        }
    }

    private static Port ReadPort(ReadOnlySpan<byte> bytes)
    {
        var r = new WireReader(bytes);
        uint sp = 0, tp = 0;
        int proto = 0;
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case (1, 0): sp = r.UInt32(); break;
                case (2, 0): tp = r.UInt32(); break;
                case (3, 0): proto = r.Enum(); break;
                default: r.Skip(f, wire); break;
            }
        }
        return new Port(sp, tp, proto);
    }

    private static void MergeService(ReadOnlySpan<byte> bytes, ServiceDraft s, StringPool pool)
    {
        var r = new WireReader(bytes);
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case (1, 2): s.Name = r.String(); break;
                case (2, 2): s.Namespace = r.String(pool); break;
                case (3, 2): s.Hostname = r.String(); break;
                case (4, 2):
                    {
                        var a = new WireReader(r.Bytes());
                        string network = "";
                        ReadOnlySpan<byte> addr = default;
                        while (a.Next(out int af, out int aw))
                        {
                            if (af == 1 && aw == 2) network = a.String(pool);
                            else if (af == 2 && aw == 2) addr = a.Bytes();
                            else a.Skip(af, aw);
                        }
                        if (addr.Length is 4 or 16) s.Addresses.Add((network, IpAddr.FromBytes(addr)));
                        else if (s.BadAddressLength < 0) s.BadAddressLength = addr.Length;
                        break;
                    }
                case (5, 2): s.Ports.Add(ReadPort(r.Bytes())); break;
                case (8, 2):
                    {
                        s.HasLb = true;
                        var l = new WireReader(r.Bytes());
                        while (l.Next(out int lf, out int lw))
                        {
                            if (lf == 1 && lw == 0) s.Prefs.Add(l.Enum());
                            else if (lf == 1 && lw == 2) { var p = new WireReader(l.Bytes()); while (p.More) s.Prefs.Add(p.Enum()); }
                            else if (lf == 2 && lw == 0) s.Mode = l.Enum();
                            else if (lf == 3 && lw == 0) s.Health = l.Enum();
                            else l.Skip(lf, lw);
                        }
                        break;
                    }
                case (7, 2): WireReader.Validate(r.Bytes(), Schema.GatewayAddress); break;
                case (10, 2): WireReader.Validate(r.Bytes(), Schema.Extension); break;
                case (13, 2): WireReader.Validate(r.Bytes(), Schema.WeightedWaypoint); break;
                default: r.Skip(f, wire); break;
            }
        }
    }

    private static Workload? ToWorkload(WorkloadDraft w, string fallbackUid, SourceLocation loc, DiagnosticBag bag)
    {
        string uid = w.Uid.Length > 0 ? w.Uid : fallbackUid;
        if (uid.Length == 0)
        {
            bag.Report(Codes.XdsMissingName, loc, "a workload needs a uid (field 20) or a resource name");
            return null;
        }
        if (w.BadAddressLength >= 0)
        {
            bag.Report(Codes.XdsBadWorkloadAddress, loc, $"workload '{uid}'", w.BadAddressLength);
            return null;
        }
        var health = (WorkloadHealth)w.Status;
        if (w.Status is not (0 or 1))
        {
            bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "status", w.Status, "HEALTHY");
            health = WorkloadHealth.Healthy;
        }
        var services = new WorkloadServicePorts[w.ServiceKeys?.Count ?? 0];
        for (int i = 0; i < services.Length; i++) services[i] = new WorkloadServicePorts(w.ServiceKeys![i], Ports(w.ServicePorts![i], loc, bag));
        var locality = w.Locality is { } l ? new Locality(l[0], l[1], l[2]) : Locality.Empty;
        return new Workload(uid, w.Name, w.Namespace,
            Or(w.ServiceAccount, Ir.Workload.DefaultServiceAccount), Or(w.TrustDomain, Ir.Workload.DefaultTrustDomain),
            Arr(w.Addresses), w.Node, w.Network, Or(w.ClusterId, Ir.Workload.DefaultClusterId),
            locality, health, w.Capacity ?? 1u,
            ImmutableCollectionsMarshal.AsImmutableArray(services), Arr(w.Policies), loc,
            NetworkModeOf(w.NetworkMode, loc, bag), w.TunnelProtocol == Hbone);
    }

    /// <summary>TunnelProtocol HBONE: the mesh captures the workload (it is enrolled). A snapshot in
    /// which no workload has it predates enrolment and counts every workload as enrolled
    /// (<see cref="SnapshotState"/>).</summary>
    private const int Hbone = 1;

    /// <summary>NetworkMode STANDARD or HOST_NETWORK; an unknown value reads as STANDARD with a warning.</summary>
    private static NetworkMode NetworkModeOf(int value, SourceLocation loc, DiagnosticBag bag)
    {
        if (value is 0 or 1) return (NetworkMode)value;
        bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "network_mode", value, "STANDARD");
        return NetworkMode.Standard;
    }

    private static Service? ToService(ServiceDraft s, SourceLocation loc, DiagnosticBag bag)
    {
        if (s.Hostname.Length == 0)
        {
            bag.Report(Codes.XdsMissingName, loc, "a service needs a hostname (field 3): it is named namespace/hostname");
            return null;
        }
        if (s.BadAddressLength >= 0)
        {
            bag.Report(Codes.XdsBadWorkloadAddress, loc, $"service '{s.Namespace}/{s.Hostname}'", s.BadAddressLength);
            return null;
        }
        var lb = LoadBalancing.Default;
        if (s.HasLb)
        {
            var prefs = new LbScope[s.Prefs.Count];
            for (int i = 0; i < prefs.Length; i++)
            {
                int p = s.Prefs[i];
                if (p == 0) { bag.Report(Codes.XdsUnspecifiedScope, loc); return null; }
                if (p is < 0 or > 6) { bag.Report(Codes.XdsUnknownEnum, loc, "load_balancing.routing_preference", p, EnumNames.Scopes); return null; }
                prefs[i] = (LbScope)p;
            }
            var mode = (LbMode)s.Mode;
            if (s.Mode is < 0 or > 3)
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "load_balancing.mode", s.Mode, "UNSPECIFIED_MODE");
                mode = LbMode.Unspecified;
            }
            var hp = (HealthPolicy)s.Health;
            if (s.Health is not (0 or 1))
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "load_balancing.health_policy", s.Health, "ONLY_HEALTHY");
                hp = HealthPolicy.OnlyHealthy;
            }
            lb = new LoadBalancing(ImmutableCollectionsMarshal.AsImmutableArray(prefs), mode, hp);
        }
        var addrs = new NetworkAddress[s.Addresses.Count];
        for (int i = 0; i < addrs.Length; i++) addrs[i] = new NetworkAddress(s.Addresses[i].Network, s.Addresses[i].Address);
        return new Service(s.Name, s.Namespace, s.Hostname, ImmutableCollectionsMarshal.AsImmutableArray(addrs), Ports(s.Ports, loc, bag), lb, loc);
    }

    private static ImmutableArray<ServicePort> Ports(List<Port> ports, SourceLocation loc, DiagnosticBag bag)
    {
        if (ports.Count == 0) return [];
        var a = new ServicePort[ports.Count];
        for (int i = 0; i < a.Length; i++)
        {
            var p = ports[i];
            var proto = (AppProtocol)p.AppProtocol;
            if (p.AppProtocol is < 0 or > 5)
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "port.app_protocol", p.AppProtocol, "UNKNOWN");
                proto = AppProtocol.Unknown;
            }
            a[i] = new ServicePort(p.ServicePort, p.TargetPort, proto);
        }
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    private static string Or(string s, string dflt) => s.Length > 0 ? s : dflt;

    // ---- istio.security.Authorization ---------------------------------------------------------

    /// <summary>Decodes an istio.security.Authorization (null when it is rejected). The rules are
    /// converted once the policy is known to be kept (their diagnostics name it); a malformed rule
    /// rejects the whole resource, with nothing else said about it, as a parse error would.</summary>
    public static Policy? Authorization(ReadOnlySpan<byte> bytes, string name, bool namedByPosition, ResourceReader reader, DiagnosticBag bag)
    {
        var r = new WireReader(bytes);
        string pname = "", ns = "";
        int scope = 0, action = 0;
        bool dryRun = false;
        var ruleSpans = new List<Range>();
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case (1, 2): pname = r.String(); break;
                case (2, 2): ns = r.String(reader.Strings); break;
                case (3, 0): scope = r.Enum(); break;
                case (4, 0): action = r.Enum(); break;
                case (5, 2):
                    {
                        int len = r.Bytes().Length;
                        ruleSpans.Add(new Range(r.Position - len, r.Position));
                        break;
                    }
                case (6, 0): dryRun = r.Bool(); break;
                case (7, 2): WireReader.Validate(r.Bytes(), Schema.Extension); break;
                default: r.Skip(f, wire); break;
            }
        }
        string n = namedByPosition && pname.Length > 0 ? $"{ns}/{pname}" : name;
        var loc = reader.Location(n);
        var local = new DiagnosticBag();
        var irRules = new Rule[ruleSpans.Count];
        for (int i = 0; i < irRules.Length; i++) irRules[i] = ToRule(bytes[ruleSpans[i]], i, loc, local, reader.Strings);
        if (pname.Length == 0) { bag.Report(Codes.XdsMissingName, loc, "an Authorization needs a name (field 1): it is named namespace/name"); return null; }
        if (scope is < 0 or > 2) { bag.Report(Codes.XdsUnknownEnum, loc, "scope", scope, EnumNames.PolicyScopes); return null; }
        if (action is not (0 or 1)) { bag.Report(Codes.XdsUnknownEnum, loc, "action", action, EnumNames.Actions); return null; }
        bag.AddRange(local.Items);
        return new Policy(pname, ns, (PolicyScope)scope, (PolicyAction)action, dryRun, ImmutableCollectionsMarshal.AsImmutableArray(irRules), loc);
    }

    private static Rule ToRule(ReadOnlySpan<byte> bytes, int ruleIndex, SourceLocation loc, DiagnosticBag bag, StringPool pool)
    {
        var clauses = new List<Clause>();
        var r = new WireReader(bytes);
        while (r.Next(out int f, out int wire))
        {
            if (f == 1 && wire == 2)
            {
                var matches = new List<Match>();
                var c = new WireReader(r.Bytes());
                while (c.Next(out int cf, out int cw))
                {
                    if (cf == 2 && cw == 2) matches.Add(ToMatch(c.Bytes(), new MatchPath(ruleIndex, clauses.Count, matches.Count), loc, bag, pool));
                    else c.Skip(cf, cw);
                }
                clauses.Add(new Clause([.. matches], loc));
            }
            else r.Skip(f, wire);
        }
        return new Rule([.. clauses], loc);
    }

    /// <summary>Where a match sits, spelled out only when a diagnostic needs it.</summary>
    private readonly record struct MatchPath(int Rule, int Clause, int Match)
    {
        public string Field(string name) => $"rules[{Rule}].clauses[{Clause}].matches[{Match}].{name}";
    }

    private static readonly string[] StringFields = ["namespaces", "not_namespaces", "principals", "not_principals"];
    private static readonly string[] AddressFields = ["source_ips", "not_source_ips", "destination_ips", "not_destination_ips"];

    private static Match ToMatch(ReadOnlySpan<byte> bytes, MatchPath path, SourceLocation loc, DiagnosticBag bag, StringPool pool)
    {
        List<StringMatch>?[] strings = new List<StringMatch>?[4];
        List<IpPrefix>?[] prefixes = new List<IpPrefix>?[4];
        List<uint>? ports = null, notPorts = null;
        List<ServiceAccountMatch>? sas = null, notSas = null;
        var r = new WireReader(bytes);
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case ( >= 1 and <= 4, 2):
                    {
                        var list = strings[f - 1] ??= [];
                        var s = ReadStringMatch(r.Bytes(), pool);
                        if (s is not null) list.Add(s);
                        else bag.Report(Codes.XdsEmptyStringMatch, loc, path.Field(StringFields[f - 1]));
                        break;
                    }
                case ( >= 5 and <= 8, 2):
                    {
                        var list = prefixes[f - 5] ??= [];
                        var a = new WireReader(r.Bytes());
                        ReadOnlySpan<byte> addr = default;
                        uint len = 0;
                        while (a.Next(out int af, out int aw))
                        {
                            if (af == 1 && aw == 2) addr = a.Bytes();
                            else if (af == 2 && aw == 0) len = a.UInt32();
                            else a.Skip(af, aw);
                        }
                        if (addr.Length is not (4 or 16))
                            bag.Report(Codes.XdsBadMatchAddress, loc, path.Field(AddressFields[f - 5]), $"{addr.Length} address bytes (an address has 4 or 16)");
                        else if (len > (uint)(addr.Length * 8))
                            bag.Report(Codes.XdsBadMatchAddress, loc, path.Field(AddressFields[f - 5]), $"prefix length {len}, longer than an {(addr.Length == 16 ? "IPv6" : "IPv4")} address");
                        else list.Add(new IpPrefix(IpAddr.FromBytes(addr), (int)len));
                        break;
                    }
                case (9, _): r.UInt32s(f, wire, ports ??= []); break;
                case (10, _): r.UInt32s(f, wire, notPorts ??= []); break;
                case (11 or 12, 2):
                    {
                        var a = new WireReader(r.Bytes());
                        string ns = "", sa = "";
                        while (a.Next(out int af, out int aw))
                        {
                            if (af == 1 && aw == 2) ns = a.String(pool);
                            else if (af == 2 && aw == 2) sa = a.String(pool);
                            else a.Skip(af, aw);
                        }
                        (f == 11 ? sas ??= [] : notSas ??= []).Add(new ServiceAccountMatch(ns, sa));
                        break;
                    }
                case (13, 2): WireReader.Validate(r.Bytes(), Schema.Extension); break;
                default: r.Skip(f, wire); break;
            }
        }
        return new Match(
            Arr(strings[0]), Arr(strings[1]), Arr(strings[2]), Arr(strings[3]),
            Arr(prefixes[0]), Arr(prefixes[1]), Arr(prefixes[2]), Arr(prefixes[3]),
            Arr(ports), Arr(notPorts), Arr(sas), Arr(notSas), loc);
    }

    private static StringMatch? ReadStringMatch(ReadOnlySpan<byte> bytes, StringPool pool)
    {
        var r = new WireReader(bytes);
        StringMatch? m = null;
        while (r.Next(out int f, out int wire))
        {
            switch (f, wire)
            {
                case (1, 2): m = new StringMatch(StringMatchKind.Exact, r.String(pool)); break;
                case (2, 2): m = new StringMatch(StringMatchKind.Prefix, r.String(pool)); break;
                case (3, 2): m = new StringMatch(StringMatchKind.Suffix, r.String(pool)); break;
                case (4, 2): WireReader.Validate(r.Bytes(), Schema.Scalars); m = new StringMatch(StringMatchKind.Presence, ""); break;
                default: r.Skip(f, wire); break;
            }
        }
        return m;
    }

    private static ImmutableArray<T> Arr<T>(List<T>? list) => list is null || list.Count == 0 ? [] : [.. list];
}
