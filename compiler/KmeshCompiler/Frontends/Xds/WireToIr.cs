using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Google.Protobuf.Collections;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>Decoded xDS messages → IR elements, with ztunnel's leniency (xds.md, "Snapshot files"):
/// a StringMatch with no variant and a match Address with a bad length are dropped with a warning;
/// an unknown Scope/Action value, a workload or service address that is not 4 or 16 bytes, and an
/// UNSPECIFIED_SCOPE routing preference reject the one resource (null is returned, with an error).
/// Other enums read an unknown value as their default, as a prost accessor does, with a warning.</summary>
internal static class WireToIr
{
    /// <summary><paramref name="fallbackUid"/> is the Resource name, used when the uid is empty.</summary>
    public static Workload? Workload(Wl.Workload w, string fallbackUid, SourceLocation loc, DiagnosticBag bag)
    {
        string uid = w.Uid.Length > 0 ? w.Uid : fallbackUid;
        if (uid.Length == 0)
        {
            bag.Report(Codes.XdsMissingName, loc, "a workload needs a uid (field 20) or a resource name");
            return null;
        }
        var addrs = ImmutableArray.CreateBuilder<IpAddr>(w.Addresses.Count);
        foreach (var a in w.Addresses)
        {
            if (a.Length is not (4 or 16))
            {
                bag.Report(Codes.XdsBadWorkloadAddress, loc, $"workload '{uid}'", a.Length);
                return null;
            }
            addrs.Add(IpAddr.FromBytes(a.Span));
        }
        var health = (WorkloadHealth)(int)w.Status;
        if (!Enum.IsDefined(w.Status))
        {
            bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "status", (int)w.Status, "HEALTHY");
            health = WorkloadHealth.Healthy;
        }
        var services = ImmutableArray.CreateBuilder<WorkloadServicePorts>(w.Services.Count);
        foreach (var (key, list) in w.Services)
            services.Add(new WorkloadServicePorts(key, Ports(list?.Ports, loc, bag)));
        var loc3 = w.Locality is { } l ? new Locality(l.Region, l.Zone, l.Subzone) : Locality.Empty;
        return new Workload(
            uid, w.Name, w.Namespace,
            Or(w.ServiceAccount, Ir.Workload.DefaultServiceAccount),
            Or(w.TrustDomain, Ir.Workload.DefaultTrustDomain),
            addrs.MoveToImmutable(), w.Node, w.Network,
            Or(w.ClusterId, Ir.Workload.DefaultClusterId),
            loc3, health, w.Capacity ?? 1u,
            services.MoveToImmutable(),
            [.. w.AuthorizationPolicies],
            loc,
            NetworkModeOf((int)w.NetworkMode, loc, bag),
            (int)w.TunnelProtocol == Hbone);
    }

    /// <summary>TunnelProtocol HBONE: the mesh captures the workload (it is enrolled). A snapshot in
    /// which no workload has it predates enrolment and counts every workload as enrolled
    /// (<see cref="SnapshotState"/>).</summary>
    public const int Hbone = 1;

    /// <summary>NetworkMode STANDARD or HOST_NETWORK; an unknown value reads as STANDARD with a warning.</summary>
    public static NetworkMode NetworkModeOf(int value, SourceLocation loc, DiagnosticBag bag)
    {
        if (value is 0 or 1) return (NetworkMode)value;
        bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "network_mode", value, "STANDARD");
        return NetworkMode.Standard;
    }

    public static Service? Service(Wl.Service s, SourceLocation loc, DiagnosticBag bag)
    {
        if (s.Hostname.Length == 0)
        {
            bag.Report(Codes.XdsMissingName, loc, "a service needs a hostname (field 3): it is named namespace/hostname");
            return null;
        }
        string key = $"{s.Namespace}/{s.Hostname}";
        var addrs = ImmutableArray.CreateBuilder<NetworkAddress>(s.Addresses.Count);
        foreach (var a in s.Addresses)
        {
            if (a.Address.Length is not (4 or 16))
            {
                bag.Report(Codes.XdsBadWorkloadAddress, loc, $"service '{key}'", a.Address.Length);
                return null;
            }
            addrs.Add(new NetworkAddress(a.Network, IpAddr.FromBytes(a.Address.Span)));
        }
        var lb = LoadBalancing.Default;
        if (s.LoadBalancing is { } wlb)
        {
            var prefs = ImmutableArray.CreateBuilder<LbScope>(wlb.RoutingPreference.Count);
            foreach (var p in wlb.RoutingPreference)
            {
                if (p == Wl.LoadBalancing.Types.Scope.UnspecifiedScope)
                {
                    bag.Report(Codes.XdsUnspecifiedScope, loc);
                    return null;
                }
                if (!Enum.IsDefined(p))
                {
                    bag.Report(Codes.XdsUnknownEnum, loc, "load_balancing.routing_preference", (int)p, EnumNames.Scopes);
                    return null;
                }
                prefs.Add((LbScope)(int)p);
            }
            var mode = (LbMode)(int)wlb.Mode;
            if (!Enum.IsDefined(wlb.Mode))
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "load_balancing.mode", (int)wlb.Mode, "UNSPECIFIED_MODE");
                mode = LbMode.Unspecified;
            }
            var hp = (HealthPolicy)(int)wlb.HealthPolicy;
            if (!Enum.IsDefined(wlb.HealthPolicy))
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "load_balancing.health_policy", (int)wlb.HealthPolicy, "ONLY_HEALTHY");
                hp = HealthPolicy.OnlyHealthy;
            }
            lb = new LoadBalancing(prefs.MoveToImmutable(), mode, hp);
        }
        return new Service(s.Name, s.Namespace, s.Hostname, addrs.MoveToImmutable(), Ports(s.Ports, loc, bag), lb, loc);
    }

    private static ImmutableArray<ServicePort> Ports(RepeatedField<Wl.Port>? ports, SourceLocation loc, DiagnosticBag bag)
    {
        if (ports is null || ports.Count == 0) return [];
        var b = ImmutableArray.CreateBuilder<ServicePort>(ports.Count);
        foreach (var p in ports)
        {
            var proto = (AppProtocol)(int)p.AppProtocol;
            if (!Enum.IsDefined(p.AppProtocol))
            {
                bag.Report(Codes.XdsUnknownEnumDefaulted, loc, "port.app_protocol", (int)p.AppProtocol, "UNKNOWN");
                proto = AppProtocol.Unknown;
            }
            b.Add(new ServicePort(p.ServicePort, p.TargetPort, proto));
        }
        return b.MoveToImmutable();
    }

    public static Policy? Policy(Sec.Authorization a, SourceLocation loc, DiagnosticBag bag)
    {
        if (a.Name.Length == 0)
        {
            bag.Report(Codes.XdsMissingName, loc, "an Authorization needs a name (field 1): it is named namespace/name");
            return null;
        }
        if (!Enum.IsDefined(a.Scope))
        {
            bag.Report(Codes.XdsUnknownEnum, loc, "scope", (int)a.Scope, EnumNames.PolicyScopes);
            return null;
        }
        if (!Enum.IsDefined(a.Action))
        {
            bag.Report(Codes.XdsUnknownEnum, loc, "action", (int)a.Action, EnumNames.Actions);
            return null;
        }
        var rules = ImmutableArray.CreateBuilder<Rule>(a.Rules.Count);
        for (int r = 0; r < a.Rules.Count; r++)
        {
            var wr = a.Rules[r];
            var clauses = ImmutableArray.CreateBuilder<Clause>(wr.Clauses.Count);
            for (int c = 0; c < wr.Clauses.Count; c++)
            {
                var wc = wr.Clauses[c];
                var matches = ImmutableArray.CreateBuilder<Match>(wc.Matches.Count);
                for (int m = 0; m < wc.Matches.Count; m++)
                    matches.Add(Match(wc.Matches[m], new MatchPath(r, c, m), loc, bag));
                clauses.Add(new Clause(matches.MoveToImmutable(), loc));
            }
            rules.Add(new Rule(clauses.MoveToImmutable(), loc));
        }
        return new Policy(a.Name, a.Namespace, (PolicyScope)(int)a.Scope, (PolicyAction)(int)a.Action, a.DryRun, rules.MoveToImmutable(), loc);
    }

    /// <summary>Where a match sits, spelled out only when a diagnostic needs it.</summary>
    internal readonly record struct MatchPath(int Rule, int Clause, int Match)
    {
        public string Field(string name) => $"rules[{Rule}].clauses[{Clause}].matches[{Match}].{name}";
    }

    private static Match Match(Sec.Match m, MatchPath path, SourceLocation loc, DiagnosticBag bag) => new(
        Strings(m.Namespaces, path, "namespaces", loc, bag),
        Strings(m.NotNamespaces, path, "not_namespaces", loc, bag),
        Strings(m.Principals, path, "principals", loc, bag),
        Strings(m.NotPrincipals, path, "not_principals", loc, bag),
        Prefixes(m.SourceIps, path, "source_ips", loc, bag),
        Prefixes(m.NotSourceIps, path, "not_source_ips", loc, bag),
        Prefixes(m.DestinationIps, path, "destination_ips", loc, bag),
        Prefixes(m.NotDestinationIps, path, "not_destination_ips", loc, bag),
        Uints(m.DestinationPorts),
        Uints(m.NotDestinationPorts),
        Accounts(m.ServiceAccounts),
        Accounts(m.NotServiceAccounts),
        loc);

    private static ImmutableArray<uint> Uints(RepeatedField<uint> list)
    {
        if (list.Count == 0) return [];
        var a = new uint[list.Count];
        list.CopyTo(a, 0);
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    private static ImmutableArray<StringMatch> Strings(RepeatedField<Sec.StringMatch> list, MatchPath path, string field, SourceLocation loc, DiagnosticBag bag)
    {
        if (list.Count == 0) return [];
        var b = ImmutableArray.CreateBuilder<StringMatch>(list.Count);
        foreach (var s in list)
        {
            switch (s.MatchTypeCase)
            {
                case Sec.StringMatch.MatchTypeOneofCase.Exact: b.Add(new StringMatch(StringMatchKind.Exact, s.Exact)); break;
                case Sec.StringMatch.MatchTypeOneofCase.Prefix: b.Add(new StringMatch(StringMatchKind.Prefix, s.Prefix)); break;
                case Sec.StringMatch.MatchTypeOneofCase.Suffix: b.Add(new StringMatch(StringMatchKind.Suffix, s.Suffix)); break;
                case Sec.StringMatch.MatchTypeOneofCase.Presence: b.Add(new StringMatch(StringMatchKind.Presence, "")); break;
                default: bag.Report(Codes.XdsEmptyStringMatch, loc, path.Field(field)); break;
            }
        }
        return b.ToImmutable();
    }

    private static ImmutableArray<IpPrefix> Prefixes(RepeatedField<Sec.Address> list, MatchPath path, string field, SourceLocation loc, DiagnosticBag bag)
    {
        if (list.Count == 0) return [];
        var b = ImmutableArray.CreateBuilder<IpPrefix>(list.Count);
        foreach (var a in list)
        {
            if (a.Address_.Length is not (4 or 16))
            {
                bag.Report(Codes.XdsBadMatchAddress, loc, path.Field(field), $"{a.Address_.Length} address bytes (an address has 4 or 16)");
                continue;
            }
            var addr = IpAddr.FromBytes(a.Address_.Span);
            if (a.Length > (uint)addr.Bits)
            {
                bag.Report(Codes.XdsBadMatchAddress, loc, path.Field(field), $"prefix length {a.Length}, longer than an {(addr.IsV6 ? "IPv6" : "IPv4")} address");
                continue;
            }
            b.Add(new IpPrefix(addr, (int)a.Length));
        }
        return b.ToImmutable();
    }

    private static ImmutableArray<ServiceAccountMatch> Accounts(RepeatedField<Sec.ServiceAccountMatch> list)
    {
        if (list.Count == 0) return [];
        var b = ImmutableArray.CreateBuilder<ServiceAccountMatch>(list.Count);
        foreach (var s in list) b.Add(new ServiceAccountMatch(s.Namespace, s.ServiceAccount));
        return b.MoveToImmutable();
    }

    private static string Or(string s, string dflt) => s.Length > 0 ? s : dflt;

    internal static ByteString Bytes(IpAddr a) => ByteString.CopyFrom(a.ToBytes());
}
