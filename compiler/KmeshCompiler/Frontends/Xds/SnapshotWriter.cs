using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using KmeshCompiler.Ir;
using Disc = KmeshCompiler.Frontends.Xds.Wire.Discovery;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace KmeshCompiler.Frontends.Xds;

public enum SnapshotFormat { Binary, Json }

/// <summary>IR → the snapshot istiod would serve for the world: two DeltaDiscoveryResponses, one of
/// type Address (every workload, named by uid, then every service, named namespace/hostname) and one of
/// type Authorization (named namespace/name). Aliases are what istiod gives Address resources:
/// "network/ip" for each address. The output depends only on the canonical world, so the same world
/// always gives the same bytes; versions and nonces are left empty for that reason.</summary>
public static class SnapshotWriter
{
    public static byte[] Write(World world, SnapshotFormat format)
    {
        var responses = Responses(world.Canonical());
        if (format == SnapshotFormat.Binary)
        {
            using var ms = new MemoryStream();
            foreach (var r in responses) r.WriteDelimitedTo(ms);
            return ms.ToArray();
        }
        // Google.Protobuf's own indentation is uneven around maps and Any; the compact form is
        // re-indented by System.Text.Json so that the file reads (and diffs) evenly.
        var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithTypeRegistry(Registry));
        var sb = new StringBuilder("[");
        for (int i = 0; i < responses.Count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(formatter.Format(responses[i]));
        }
        sb.Append(']');
        using var doc = JsonDocument.Parse(sb.ToString());
        using var text = new MemoryStream();
        using (var w = new Utf8JsonWriter(text, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            doc.WriteTo(w);
        text.WriteByte((byte)'\n');
        return text.ToArray();
    }

    public static TypeRegistry Registry { get; } = TypeRegistry.FromMessages(
        Wl.Address.Descriptor, Wl.Workload.Descriptor, Sec.Authorization.Descriptor);

    public static IReadOnlyList<Disc.DeltaDiscoveryResponse> Responses(World w)
    {
        // Pod templates are not on the wire (istiod serves pods); enrolment is written as HBONE on the
        // enrolled workloads only when some workload is not enrolled, so older worlds keep their bytes.
        bool tunnels = w.Workloads.Any(x => !x.Enrolled && !x.IsTemplate);
        var addresses = new Disc.DeltaDiscoveryResponse { TypeUrl = TypeUrls.Address };
        foreach (var wl in w.Workloads)
        {
            if (wl.IsTemplate) continue;
            var x = Workload(wl);
            if (tunnels && wl.Enrolled) x.TunnelProtocol = Wl.TunnelProtocol.Hbone;
            var res = new Disc.Resource { Name = wl.Uid, Resource_ = Any.Pack(new Wl.Address { Workload = x }) };
            foreach (var a in wl.Addresses) res.Aliases.Add($"{wl.Network}/{a}");
            addresses.Resources.Add(res);
        }
        foreach (var s in w.Services)
        {
            var res = new Disc.Resource { Name = s.Key, Resource_ = Any.Pack(new Wl.Address { Service = Service(s) }) };
            foreach (var a in s.Addresses) res.Aliases.Add($"{a.Network}/{a.Address}");
            addresses.Resources.Add(res);
        }
        var auth = new Disc.DeltaDiscoveryResponse { TypeUrl = TypeUrls.Authorization };
        foreach (var p in w.Policies)
            auth.Resources.Add(new Disc.Resource { Name = p.Key, Resource_ = Any.Pack(Authorization(p)) });
        return [addresses, auth];
    }

    public static Wl.Workload Workload(Workload w)
    {
        var x = new Wl.Workload
        {
            Uid = w.Uid,
            Name = w.Name,
            Namespace = w.Namespace,
            Network = w.Network,
            TrustDomain = w.TrustDomain,
            ServiceAccount = w.ServiceAccount,
            Node = w.Node,
            Status = (Wl.WorkloadStatus)(int)w.Health,
            ClusterId = w.ClusterId,
            NetworkMode = (Wl.NetworkMode)(int)w.NetworkMode,
        };
        foreach (var a in w.Addresses) x.Addresses.Add(Bytes(a));
        if (w.Locality != Locality.Empty) x.Locality = new Wl.Locality { Region = w.Locality.Region, Zone = w.Locality.Zone, Subzone = w.Locality.Subzone };
        if (w.Capacity != 1) x.Capacity = w.Capacity;
        foreach (var s in w.Services)
        {
            var pl = new Wl.PortList();
            foreach (var p in s.Ports) pl.Ports.Add(Port(p));
            x.Services[s.ServiceKey] = pl;
        }
        x.AuthorizationPolicies.Add(w.AuthorizationPolicies);
        return x;
    }

    public static Wl.Service Service(Service s)
    {
        var x = new Wl.Service { Name = s.Name, Namespace = s.Namespace, Hostname = s.Hostname };
        foreach (var a in s.Addresses) x.Addresses.Add(new Wl.NetworkAddress { Network = a.Network, Address = Bytes(a.Address) });
        foreach (var p in s.Ports) x.Ports.Add(Port(p));
        var lb = s.LoadBalancing;
        if (!lb.RoutingPreference.IsEmpty || lb.Mode != LbMode.Unspecified || lb.HealthPolicy != HealthPolicy.OnlyHealthy)
        {
            var wlb = new Wl.LoadBalancing { Mode = (Wl.LoadBalancing.Types.Mode)(int)lb.Mode, HealthPolicy = (Wl.LoadBalancing.Types.HealthPolicy)(int)lb.HealthPolicy };
            foreach (var r in lb.RoutingPreference) wlb.RoutingPreference.Add((Wl.LoadBalancing.Types.Scope)(int)r);
            x.LoadBalancing = wlb;
        }
        return x;
    }

    private static ByteString Bytes(IpAddr a) => ByteString.CopyFrom(a.ToBytes());

    private static Wl.Port Port(ServicePort p) => new() { ServicePort = p.Port, TargetPort = p.TargetPort, AppProtocol = (Wl.AppProtocol)(int)p.AppProtocol };

    public static Sec.Authorization Authorization(Policy p)
    {
        var x = new Sec.Authorization
        {
            Name = p.Name,
            Namespace = p.Namespace,
            Scope = (Sec.Scope)(int)p.Scope,
            Action = (Sec.Action)(int)p.Action,
            DryRun = p.DryRun,
        };
        foreach (var r in p.Rules)
        {
            var wr = new Sec.Rule();
            foreach (var c in r.Clauses)
            {
                var wc = new Sec.Clause();
                foreach (var m in c.Matches) wc.Matches.Add(Match(m));
                wr.Clauses.Add(wc);
            }
            x.Rules.Add(wr);
        }
        return x;
    }

    private static Sec.Match Match(Match m)
    {
        var x = new Sec.Match();
        Strings(x.Namespaces, m.Namespaces);
        Strings(x.NotNamespaces, m.NotNamespaces);
        Strings(x.Principals, m.Principals);
        Strings(x.NotPrincipals, m.NotPrincipals);
        Prefixes(x.SourceIps, m.SourceIps);
        Prefixes(x.NotSourceIps, m.NotSourceIps);
        Prefixes(x.DestinationIps, m.DestinationIps);
        Prefixes(x.NotDestinationIps, m.NotDestinationIps);
        x.DestinationPorts.Add(m.DestinationPorts);
        x.NotDestinationPorts.Add(m.NotDestinationPorts);
        foreach (var s in m.ServiceAccounts) x.ServiceAccounts.Add(new Sec.ServiceAccountMatch { Namespace = s.Namespace, ServiceAccount = s.ServiceAccount });
        foreach (var s in m.NotServiceAccounts) x.NotServiceAccounts.Add(new Sec.ServiceAccountMatch { Namespace = s.Namespace, ServiceAccount = s.ServiceAccount });
        return x;
    }

    private static void Strings(Google.Protobuf.Collections.RepeatedField<Sec.StringMatch> to, IEnumerable<StringMatch> from)
    {
        foreach (var s in from)
        {
            to.Add(s.Kind switch
            {
                StringMatchKind.Exact => new Sec.StringMatch { Exact = s.Value },
                StringMatchKind.Prefix => new Sec.StringMatch { Prefix = s.Value },
                StringMatchKind.Suffix => new Sec.StringMatch { Suffix = s.Value },
                _ => new Sec.StringMatch { Presence = new Empty() },
            });
        }
    }

    private static void Prefixes(Google.Protobuf.Collections.RepeatedField<Sec.Address> to, IEnumerable<IpPrefix> from)
    {
        foreach (var p in from) to.Add(new Sec.Address { Address_ = Bytes(p.Address), Length = (uint)p.Length });
    }
}
