using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>The metadata every object shares.</summary>
internal sealed record Meta(string Name, string Namespace, Labels Labels, Labels Annotations, YMap? AnnotationsNode, SourceLocation Location);

/// <summary>Reads each document into models: dispatch by kind (unwrapping lists), metadata, and the
/// core kinds (Namespace, Node, Pod, Service). AuthorizationPolicy is in <see cref="PolicyParser"/>.</summary>
internal sealed class ObjectParser(FrontendSettings settings, DiagnosticBag bag)
{
    public const string RegionLabel = "topology.kubernetes.io/region";
    public const string ZoneLabel = "topology.kubernetes.io/zone";
    public const string SubzoneLabel = "topology.istio.io/subzone";
    public const string NetworkLabel = "topology.istio.io/network";
    public const string TrafficDistributionAnnotation = "networking.istio.io/traffic-distribution";
    public const string DataplaneModeLabel = "istio.io/dataplane-mode";

    /// <summary>Kinds whose pod template becomes a workload without addresses, and where the template is.</summary>
    private static readonly Dictionary<string, string[]> TemplateKinds = new(StringComparer.Ordinal)
    {
        ["Deployment"] = ["spec", "template"],
        ["StatefulSet"] = ["spec", "template"],
        ["DaemonSet"] = ["spec", "template"],
        ["ReplicaSet"] = ["spec", "template"],
        ["ReplicationController"] = ["spec", "template"],
        ["Job"] = ["spec", "template"],
        ["CronJob"] = ["spec", "jobTemplate", "spec", "template"],
        ["Rollout"] = ["spec", "template"],
    };

    private static readonly string[] TopFields = ["apiVersion", "kind", "metadata", "spec", "status"];
    private static readonly string[] MetaFields =
    [
        "name", "namespace", "labels", "annotations", "uid", "generateName", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
        "managedFields", "selfLink",
    ];

    public List<NamespaceModel> Namespaces { get; } = new();
    public List<NodeModel> Nodes { get; } = new();
    public List<PodModel> Pods { get; } = new();
    public List<ServiceModel> Services { get; } = new();
    public List<PolicyModel> Policies { get; } = new();

    /// <summary>Objects seen, including skipped kinds and objects with errors.</summary>
    public int ObjectCount { get; private set; }

    /// <summary>Appends what another parser (of a later piece of input) read.</summary>
    public void Absorb(ObjectParser other)
    {
        Namespaces.AddRange(other.Namespaces);
        Nodes.AddRange(other.Nodes);
        Pods.AddRange(other.Pods);
        Services.AddRange(other.Services);
        Policies.AddRange(other.Policies);
        ObjectCount += other.ObjectCount;
    }

    public void Document(YNode root)
    {
        if (root is YScalar { IsNull: true }) return; // an empty document between "---" separators
        Object(root, 0);
    }

    private void Object(YNode node, int listDepth)
    {
        ObjectCount++;
        var r = new ObjectReader(bag);
        if (node is not YMap m)
        {
            r.Report(Codes.NotAnObject, node.Location, node.Describe());
            return;
        }
        string? kind = r.String(m["kind"], "kind");
        string? apiVersion = r.String(m["apiVersion"], "apiVersion");
        if (kind is null)
        {
            if (m["kind"] is null) r.Report(Codes.MissingField, m.Location, "the object", "kind");
            return;
        }
        if (apiVersion is null && m["apiVersion"] is null) r.Report(Codes.MissingField, m.Location, $"this {kind}", "apiVersion");

        if ((kind == "List" || kind.EndsWith("List", StringComparison.Ordinal)) && m["items"] is not null)
        {
            ObjectCount--; // the list itself is not an object; its items are
            if (listDepth > 4) { r.Report(Codes.YamlTooDeep, m.Location, 4); return; }
            var items = r.List(m["items"], "items");
            if (items is null) return;
            foreach (var item in items.Items) Object(item, listDepth + 1);
            return;
        }

        switch (kind)
        {
            case "Namespace": Namespace(m, r, apiVersion); break;
            case "Node": Node(m, r, apiVersion); break;
            case "Pod": Pod(m, r, apiVersion); break;
            case "Service": Service(m, r, apiVersion); break;
            case "AuthorizationPolicy":
            {
                var meta = Metadata(m, r, kind, namespaced: true);
                if (meta is null) return;
                if (apiVersion is not null and not ("security.istio.io/v1" or "security.istio.io/v1beta1"))
                    r.Report(Codes.UnsupportedApiVersion, m["apiVersion"]!.Location, kind, apiVersion, "security.istio.io/v1 or security.istio.io/v1beta1");
                r.Fields(m, kind, TopFields);
                if (new PolicyParser(r, settings, meta).Read(m) is { } p) Policies.Add(p);
                break;
            }
            case var k when TemplateKinds.TryGetValue(k, out var path): Template(m, r, k, path); break;
            case "PeerAuthentication" or "WorkloadEntry" or "ServiceEntry":
                r.Object = $"{kind} {NameOf(m, kind)}";
                r.Report(Codes.UnsupportedKind, m.Location, kind, NameOf(m, kind));
                break;
            default:
                r.Object = $"{kind} {NameOf(m, kind)}";
                r.Report(Codes.SkippedKind, m.Location, kind, NameOf(m, kind));
                break;
        }
    }

    /// <summary>Kinds without a namespace: every other kind without metadata.namespace gets -n's.</summary>
    private static readonly HashSet<string> ClusterScoped = new(StringComparer.Ordinal)
    {
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "PriorityClass", "APIService", "IngressClass", "RuntimeClass",
        "CSIDriver", "CSINode", "VolumeAttachment", "ClusterIssuer", "GatewayClass", "ComponentStatus",
    };

    private string NameOf(YMap m, string kind) =>
        m["metadata"] is YMap md && md["name"] is YScalar { IsString: true } n
            ? (md["namespace"] is YScalar { IsString: true } ns ? $"{ns.Value}/{n.Value}"
                : ClusterScoped.Contains(kind) ? n.Value : $"{settings.DefaultNamespace}/{n.Value}")
            : "(unnamed)";

    private void CoreApiVersion(YMap m, ObjectReader r, string kind, string? apiVersion)
    {
        if (apiVersion is not null and not "v1")
            r.Report(Codes.UnsupportedApiVersion, m["apiVersion"]!.Location, kind, apiVersion, "v1");
        r.Fields(m, kind, TopFields);
    }

    /// <summary>Name, namespace (default "default" for namespaced kinds), labels and annotations.</summary>
    internal Meta? Metadata(YMap m, ObjectReader r, string kind, bool namespaced)
    {
        var md = r.Map(m["metadata"], "metadata");
        if (md is null)
        {
            if (m["metadata"] is null) r.Report(Codes.MissingField, m.Location, $"this {kind}", "metadata");
            return null;
        }
        r.Fields(md, "metadata", MetaFields);
        string? name = r.String(md["name"], "metadata.name");
        if (name is null)
        {
            if (md["name"] is null) r.Report(Codes.MissingField, md.Location, $"this {kind}'s metadata", "name");
            return null;
        }
        if (!IsDnsSubdomain(name)) r.Report(Codes.BadName, md["name"]!.Location, name, kind);
        string ns = "";
        if (namespaced)
        {
            ns = r.String(md["namespace"], "metadata.namespace") ?? settings.DefaultNamespace;
            if (md["namespace"] is { } nsNode && ns != "default" && !IsDnsLabel(ns)) r.Report(Codes.BadName, nsNode.Location, ns, "namespace");
        }
        r.Object = namespaced ? $"{kind} {ns}/{name}" : $"{kind} {name}";
        var labels = ToLabels(r.StringMap(md["labels"], "metadata.labels"));
        var annotationsNode = md["annotations"] as YMap;
        var annotations = ToLabels(r.StringMap(md["annotations"], "metadata.annotations"));
        if (annotations.Get(Suppression.Annotation) is { } codes)
            foreach (var code in codes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (Suppression.Parse(code) is { Object: null } rule) bag.Suppressions.Add(rule with { Object = namespaced ? $"{ns}/{name}" : name });
                else r.Report(Codes.BadSuppression, annotationsNode![Suppression.Annotation]!.Location, code);
            }
        return new Meta(name, ns, labels, annotations, annotationsNode, m.Location);
    }

    internal static Labels ToLabels(List<(string Key, string Value, YScalar KeyNode, YNode ValueNode)>? pairs) =>
        pairs is null || pairs.Count == 0 ? Labels.Empty : new Labels([.. pairs.Select(p => new KeyValuePair<string, string>(p.Key, p.Value))]);

    private static bool IsDnsSubdomain(string s) =>
        s.Length is > 0 and <= 253 && s.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.') &&
        char.IsAsciiLetterOrDigit(s[0]) && char.IsAsciiLetterOrDigit(s[^1]);

    private static bool IsDnsLabel(string s) => s.Length <= 63 && IsDnsSubdomain(s) && !s.Contains('.');

    private void Namespace(YMap m, ObjectReader r, string? apiVersion)
    {
        var meta = Metadata(m, r, "Namespace", namespaced: false);
        CoreApiVersion(m, r, "Namespace", apiVersion);
        if (meta is null) return;
        Namespaces.Add(new NamespaceModel(meta.Name, meta.Labels, meta.Annotations, meta.Location));
    }

    private void Node(YMap m, ObjectReader r, string? apiVersion)
    {
        var meta = Metadata(m, r, "Node", namespaced: false);
        CoreApiVersion(m, r, "Node", apiVersion);
        if (meta is null) return;
        var loc = new Locality(meta.Labels.Get(RegionLabel) ?? "", meta.Labels.Get(ZoneLabel) ?? "", meta.Labels.Get(SubzoneLabel) ?? "");
        Nodes.Add(new NodeModel(meta.Name, loc, meta.Labels.Get(NetworkLabel) ?? "", meta.Location));
    }

    private void Pod(YMap m, ObjectReader r, string? apiVersion)
    {
        var meta = Metadata(m, r, "Pod", namespaced: true);
        CoreApiVersion(m, r, "Pod", apiVersion);
        if (meta is null) return;
        var spec = r.Map(m["spec"], "spec");
        var status = r.Map(m["status"], "status");
        var ps = PodSpec(spec, r, "spec");
        var addrs = new List<IpAddr>();
        void AddIp(YNode? n, string path)
        {
            if (r.String(n, path) is not { Length: > 0 } s) return;
            if (IpAddr.TryParse(s, out var a, out var err)) { if (!addrs.Contains(a)) addrs.Add(a); }
            else r.Report(Codes.BadObjectIp, n!.Location, path, s, err);
        }
        AddIp(status?["podIP"], "status.podIP");
        if (r.List(status?["podIPs"], "status.podIPs") is { } podIps)
            for (int i = 0; i < podIps.Items.Count; i++)
                AddIp(r.Map(podIps.Items[i], $"status.podIPs[{i}]")?["ip"], $"status.podIPs[{i}].ip");

        string? phase = r.String(status?["phase"], "status.phase");
        if (phase is "Succeeded" or "Failed")
        {
            r.Report(Codes.TerminalPod, status!["phase"]!.Location, $"{meta.Namespace}/{meta.Name}", phase.ToLowerInvariant());
            return;
        }
        bool ready = false;
        if (r.List(status?["conditions"], "status.conditions") is { } conds)
            for (int i = 0; i < conds.Items.Count; i++)
            {
                var c = r.Map(conds.Items[i], $"status.conditions[{i}]");
                if (c is not null && r.String(c["type"], $"status.conditions[{i}].type") == "Ready")
                    ready = r.String(c["status"], $"status.conditions[{i}].status") == "True";
            }
        if (addrs.Count == 0) r.Report(Codes.PodWithoutIp, meta.Location, $"{meta.Namespace}/{meta.Name}");
        Pods.Add(new PodModel(meta.Name, meta.Namespace, ps.ServiceAccount, [.. addrs], ps.NodeName, meta.Labels, ready, ps.Ports,
            meta.Location, spec?["nodeName"]?.Location ?? meta.Location, HostNetwork: ps.HostNetwork));
    }

    private sealed record PodSpecModel(string ServiceAccount, string NodeName, ImmutableArray<ContainerPort> Ports, bool HostNetwork);

    /// <summary>What a pod spec (of a Pod or of a template at <paramref name="at"/>) contributes.</summary>
    private static PodSpecModel PodSpec(YMap? spec, ObjectReader r, string at)
    {
        string sa = r.String(spec?["serviceAccountName"], at + ".serviceAccountName")
                    ?? r.String(spec?["serviceAccount"], at + ".serviceAccount") ?? Workload.DefaultServiceAccount;
        if (sa.Length == 0) sa = Workload.DefaultServiceAccount;
        string nodeName = r.String(spec?["nodeName"], at + ".nodeName") ?? "";
        bool hostNetwork = r.Bool(spec?["hostNetwork"], at + ".hostNetwork") ?? false;

        var ports = ImmutableArray.CreateBuilder<ContainerPort>();
        foreach (var (field, containers) in new[] { (at + ".containers", spec?["containers"]), (at + ".initContainers", spec?["initContainers"]) })
        {
            var list = r.List(containers, field);
            if (list is null) continue;
            for (int i = 0; i < list.Items.Count; i++)
            {
                var c = r.Map(list.Items[i], $"{field}[{i}]");
                var cports = r.List(c?["ports"], $"{field}[{i}].ports");
                if (cports is null) continue;
                for (int j = 0; j < cports.Items.Count; j++)
                {
                    var p = r.Map(cports.Items[j], $"{field}[{i}].ports[{j}]");
                    if (p is null) continue;
                    long? num = r.Int(p["containerPort"], $"{field}[{i}].ports[{j}].containerPort", 1, 65535);
                    string? pname = r.String(p["name"], $"{field}[{i}].ports[{j}].name");
                    if (num is { } n) ports.Add(new ContainerPort(pname ?? "", (uint)n));
                }
            }
        }
        return new PodSpecModel(sa, nodeName, ports.ToImmutable(), hostNetwork);
    }

    /// <summary>A workload template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Argo
    /// Rollout): its pod template becomes a workload without addresses, so selectors, lints and checks
    /// by name see the pods it will create. The object's own spec is only read where the template is.</summary>
    private void Template(YMap m, ObjectReader r, string kind, string[] path)
    {
        var meta = Metadata(m, r, kind, namespaced: true);
        if (meta is null) return;
        YMap? node = m;
        string at = "";
        foreach (var step in path)
        {
            at = at.Length == 0 ? step : $"{at}.{step}";
            node = r.Map(node?[step], at);
            if (node is null) return; // a Rollout with workloadRef has no template: the referenced Deployment has it
        }
        var tmeta = r.Map(node!["metadata"], at + ".metadata");
        var labels = ToLabels(r.StringMap(tmeta?["labels"], at + ".metadata.labels"));
        var ps = PodSpec(r.Map(node["spec"], at + ".spec"), r, at + ".spec");
        Pods.Add(new PodModel(meta.Name, meta.Namespace, ps.ServiceAccount, [], ps.NodeName, labels, true, ps.Ports,
            meta.Location, meta.Location, kind, ps.HostNetwork));
    }

    private void Service(YMap m, ObjectReader r, string? apiVersion)
    {
        var meta = Metadata(m, r, "Service", namespaced: true);
        CoreApiVersion(m, r, "Service", apiVersion);
        if (meta is null) return;
        var spec = r.Map(m["spec"], "spec");
        Labels? selector = spec?["selector"] is { } selNode ? ToLabels(r.StringMap(selNode, "spec.selector")) : null;
        if (selector is { Pairs.IsEmpty: true }) selector = null; // an empty selector selects no pods (endpoints are managed by hand)

        var ips = new List<IpAddr>();
        void AddIp(YNode? n, string path)
        {
            if (r.String(n, path) is not { Length: > 0 } s || s == "None") return;
            if (IpAddr.TryParse(s, out var a, out var err)) { if (!ips.Contains(a)) ips.Add(a); }
            else r.Report(Codes.BadObjectIp, n!.Location, path, s, err);
        }
        AddIp(spec?["clusterIP"], "spec.clusterIP");
        if (r.List(spec?["clusterIPs"], "spec.clusterIPs") is { } cips)
            for (int i = 0; i < cips.Items.Count; i++) AddIp(cips.Items[i], $"spec.clusterIPs[{i}]");

        var ports = ImmutableArray.CreateBuilder<ServicePortModel>();
        if (r.List(spec?["ports"], "spec.ports") is { } plist)
            for (int i = 0; i < plist.Items.Count; i++)
            {
                string path = $"spec.ports[{i}]";
                var p = r.Map(plist.Items[i], path);
                if (p is null) continue;
                long? port = r.Int(p["port"], path + ".port", 1, 65535);
                if (port is null)
                {
                    if (p["port"] is null) r.Report(Codes.MissingField, p.Location, $"service port {path}", "port");
                    continue;
                }
                string name = r.String(p["name"], path + ".name") ?? "";
                uint targetNumber = (uint)port.Value;
                string? targetName = null;
                switch (p["targetPort"])
                {
                    case null or YScalar { IsNull: true }: break;
                    case YScalar { Plain: true, IsNumber: true } t:
                        if (r.Int(t, path + ".targetPort", 1, 65535) is { } tn) targetNumber = (uint)tn;
                        break;
                    case YScalar { IsString: true } t:
                        if (IsPortName(t.Value)) { targetName = t.Value; targetNumber = 0; }
                        else r.Report(Codes.BadTargetPort, t.Location, t.Value);
                        break;
                    case var other:
                        r.Report(Codes.WrongType, other.Location, path + ".targetPort", "a port number or name", other.Describe(), "");
                        break;
                }
                string? appProtocol = r.String(p["appProtocol"], path + ".appProtocol");
                ports.Add(new ServicePortModel(name, (uint)port.Value, targetNumber, targetName, AppProtocolOf(appProtocol, name), p.Location));
            }

        string? td = r.String(spec?["trafficDistribution"], "spec.trafficDistribution");
        if (td is not null && !IsTrafficDistribution(td))
        {
            r.Report(Codes.BadTrafficDistribution, spec!["trafficDistribution"]!.Location, td);
            td = null;
        }
        string? itp = r.String(spec?["internalTrafficPolicy"], "spec.internalTrafficPolicy");
        if (itp is not null and not ("Cluster" or "Local"))
        {
            r.Report(Codes.BadInternalTrafficPolicy, spec!["internalTrafficPolicy"]!.Location, itp);
            itp = null;
        }
        bool publish = r.Bool(spec?["publishNotReadyAddresses"], "spec.publishNotReadyAddresses") ?? false;
        string? annotation = meta.Annotations.Get(TrafficDistributionAnnotation);
        var annotationLoc = meta.AnnotationsNode?[TrafficDistributionAnnotation]?.Location ?? meta.Location;
        Services.Add(new ServiceModel(meta.Name, meta.Namespace, selector, [.. ips], ports.ToImmutable(), td, itp == "Local",
            annotation, annotationLoc, publish, meta.Location));
    }

    internal static bool IsTrafficDistribution(string s) => s is "PreferClose" or "PreferSameZone" or "PreferSameNode";

    /// <summary>IANA_SVC_NAME, as Kubernetes validates a named port.</summary>
    private static bool IsPortName(string s) =>
        s.Length is > 0 and <= 15 && s.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') &&
        s.Any(char.IsAsciiLetter) && s[0] != '-' && s[^1] != '-' && !s.Contains("--", StringComparison.Ordinal);

    /// <summary>istiod's protocol selection: appProtocol, else the port name's prefix; only HTTP, HTTP2
    /// and gRPC reach the workload API.</summary>
    private static AppProtocol AppProtocolOf(string? appProtocol, string name)
    {
        string p = (appProtocol ?? name.Split('-')[0]).ToLowerInvariant();
        return p switch
        {
            "http" => AppProtocol.Http11,
            "http2" or "kubernetes.io/h2c" => AppProtocol.Http2,
            "grpc" or "grpc-web" => AppProtocol.Grpc,
            _ => AppProtocol.Unknown,
        };
    }
}
