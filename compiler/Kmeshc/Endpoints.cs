using KmeshCompiler.Ir;

namespace Kmeshc;

/// <summary>Resolves the user's way of naming an endpoint: an IP address, namespace/podName, or
/// KIND/namespace/name for a pod template (deployment/NS/NAME, statefulset/..., cronjob/..., rollout/...).
/// Services (svc/NS/NAME or a ClusterIP) are resolved by <see cref="TryService"/>.</summary>
public static class Endpoints
{
    /// <summary>kubectl's resource names and short names → the object kind.</summary>
    private static readonly Dictionary<string, string> Kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pod"] = "Pod", ["pods"] = "Pod", ["po"] = "Pod",
        ["deployment"] = "Deployment", ["deployments"] = "Deployment", ["deploy"] = "Deployment",
        ["statefulset"] = "StatefulSet", ["statefulsets"] = "StatefulSet", ["sts"] = "StatefulSet",
        ["daemonset"] = "DaemonSet", ["daemonsets"] = "DaemonSet", ["ds"] = "DaemonSet",
        ["replicaset"] = "ReplicaSet", ["replicasets"] = "ReplicaSet", ["rs"] = "ReplicaSet",
        ["replicationcontroller"] = "ReplicationController", ["rc"] = "ReplicationController",
        ["job"] = "Job", ["jobs"] = "Job",
        ["cronjob"] = "CronJob", ["cronjobs"] = "CronJob", ["cj"] = "CronJob",
        ["rollout"] = "Rollout", ["rollouts"] = "Rollout", ["ro"] = "Rollout",
    };

    private static readonly string[] ServiceWords = ["svc", "service", "services"];

    public static bool TryResolve(World world, string text, out IpAddr address, out Workload? workload, out string error)
    {
        workload = null;
        error = "";
        if (IpAddr.TryParse(text, out address, out var ipErr))
        {
            var a = address;
            workload = world.Workloads.FirstOrDefault(w => w.Addresses.Contains(a));
            return true;
        }
        var parts = text.Split('/');
        if (parts.Length == 3 && parts.All(p => p.Length > 0) && Kinds.TryGetValue(parts[0], out var kind))
            return ByName(world, kind, parts[1], parts[2], text, out address, out workload, out error);
        if (parts.Length == 2 && parts.All(p => p.Length > 0))
            return ByName(world, Workload.PodKind, parts[0], parts[1], text, out address, out workload, out error);
        error = $"'{text}' is neither an IP address ({ipErr}), namespace/podName, KIND/namespace/name (deployment, statefulset, daemonset, replicaset, job, cronjob, rollout) nor svc/namespace/name";
        return false;
    }

    private static bool ByName(World world, string kind, string ns, string name, string text, out IpAddr address, out Workload? workload, out string error)
    {
        address = IpAddr.V4(0);
        error = "";
        workload = world.Workloads.FirstOrDefault(w => w.Kind == kind && w.Namespace == ns && w.Name == name);
        if (workload is null)
        {
            var near = world.Workloads.Where(w => w.Name == name || w.Namespace == ns).OrderBy(w => w.Name == name ? 0 : 1)
                .Select(w => w.IsTemplate ? $"{w.Kind.ToLowerInvariant()}/{w.Key}" : w.Key).Take(5).ToList();
            string what = kind == Workload.PodKind ? "workload" : kind;
            error = $"no {what} '{ns}/{name}' in the inputs" + (near.Count > 0 ? $" (did you mean {string.Join(", ", near)}?)" : "");
            return false;
        }
        if (workload.IsTemplate) return true; // a template has no address: the caller decides by workload
        if (workload.Addresses.IsEmpty) { error = $"workload '{text}' has no address"; return false; }
        address = workload.Addresses.FirstOrDefault(x => !x.IsV6, workload.Addresses[0]);
        return true;
    }

    /// <summary>A Service named svc/NS/NAME (or service/..., or NS/NAME after svc), or the service owning
    /// an address no workload has. False with an empty error when the text names no service at all.</summary>
    public static bool TryService(World world, string text, out Service? service, out string error)
    {
        service = null;
        error = "";
        var parts = text.Split('/');
        if (parts.Length == 3 && ServiceWords.Contains(parts[0], StringComparer.OrdinalIgnoreCase))
        {
            service = world.Services.FirstOrDefault(s => s.Namespace == parts[1] && s.Name == parts[2]);
            if (service is null)
            {
                var near = world.Services.Where(s => s.Name == parts[2] || s.Namespace == parts[1]).Select(s => $"svc/{s.Namespace}/{s.Name}").Take(5).ToList();
                error = $"no Service '{parts[1]}/{parts[2]}' in the inputs" + (near.Count > 0 ? $" (did you mean {string.Join(", ", near)}?)" : "");
                return false;
            }
            return true;
        }
        if (IpAddr.TryParse(text, out var a, out _) && !world.Workloads.Any(w => w.Addresses.Contains(a)))
        {
            service = world.Services.FirstOrDefault(s => s.Addresses.Any(x => x.Address == a));
            return service is not null;
        }
        return false;
    }

    /// <summary>The endpoints of a service port: each workload serving it with its target port.</summary>
    public static List<(Workload Workload, uint TargetPort)> ServiceEndpoints(World world, Service s, uint port) =>
        [.. world.Workloads
            .Select(w => (w, sp: w.Services.FirstOrDefault(x => x.ServiceKey == s.Key)?.Ports.FirstOrDefault(p => p.Port == port)))
            .Where(x => x.sp is not null && x.sp.TargetPort != 0)
            .Select(x => (x.w, x.sp!.TargetPort))];

    /// <summary>When <paramref name="port"/> is a Service port of <paramref name="w"/> but not one of its
    /// target ports, the hint naming the target port to use instead.</summary>
    public static string? ServicePortHint(Workload w, uint port)
    {
        if (w.Services.Any(s => s.Ports.Any(p => p.TargetPort == port))) return null;
        foreach (var s in w.Services)
            foreach (var p in s.Ports)
                if (p.Port == port && p.TargetPort != port && p.TargetPort != 0)
                {
                    string svc = $"svc/{w.Namespace}/{s.ServiceKey[(s.ServiceKey.IndexOf('/') + 1)..].Split('.')[0]}";
                    return $"port {port} is a port of Service {svc}; this workload receives it on target port {p.TargetPort}: use --port {p.TargetPort}, or --dst {svc} --port {port}";
                }
        return null;
    }
}
