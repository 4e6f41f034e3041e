using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Mesh membership (semantics.md §3, "Enrolment"): the label <c>istio.io/dataplane-mode</c>
/// on a namespace or pod. When no object carries it, every workload is enrolled.</summary>
internal sealed class Enrolment
{
    private readonly bool _used;
    private readonly Dictionary<string, string> _namespaceMode = new(StringComparer.Ordinal);

    public Enrolment(IEnumerable<NamespaceModel> namespaces, IEnumerable<PodModel> pods)
    {
        foreach (var n in namespaces)
            if (n.Labels.Get(ObjectParser.DataplaneModeLabel) is { } mode) { _namespaceMode[n.Name] = mode; _used = true; }
        _used |= pods.Any(p => p.Labels.Get(ObjectParser.DataplaneModeLabel) is not null);
    }

    /// <summary>Whether the label is used anywhere in the world.</summary>
    public bool Used => _used;

    public bool Enrolled(PodModel p)
    {
        if (!_used) return true;
        string? mode = p.Labels.Get(ObjectParser.DataplaneModeLabel);
        if (mode == "none") return false;
        if (IsEnrolling(mode)) return true;
        return IsEnrolling(_namespaceMode.GetValueOrDefault(p.Namespace));
    }

    private static bool IsEnrolling(string? mode) => mode is "ambient" or "Kmesh";
}

/// <summary>The precise reasons behind world lints: why a policy applies to no workload (the namespace
/// does not exist, has no workloads, or no labels match, each with the nearest thing that does exist),
/// policies that apply only to workloads the mesh does not enforce, and identities that only
/// host-network pods hold.</summary>
internal sealed class WorldHints(List<PodModel> pods, List<Workload> workloads, IReadOnlyDictionary<string, List<int>> byNamespace,
    IEnumerable<string> declaredNamespaces, FrontendSettings settings, DiagnosticBag bag)
{
    private readonly HashSet<string> _declared = declaredNamespaces.ToHashSet(StringComparer.Ordinal);

    /// <summary>The sentence after "applies to no workload in the inputs: ".</summary>
    public string WhyNothing(PolicyModel pm)
    {
        var p = pm.Policy;
        bool anyNamespace = p.Scope == PolicyScope.WorkloadSelector && p.Namespace == settings.RootNamespace;
        if (!anyNamespace && !byNamespace.ContainsKey(p.Namespace))
        {
            if (_declared.Contains(p.Namespace)) return $"namespace '{p.Namespace}' has no workloads (Pods or workload templates)";
            var names = _declared.Concat(byNamespace.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            string? near = ObjectReader.DidYouMean(p.Namespace, names);
            return $"namespace '{p.Namespace}' does not exist and holds no workloads"
                   + (near is not null ? $"; did you mean '{near}'?" : names.Count > 0 ? $"; the namespaces with workloads are {Few(names)}" : "");
        }
        if (p.Scope == PolicyScope.Namespace) return $"namespace '{p.Namespace}' has no workloads";
        var selector = pm.MatchLabels!;
        string where = anyNamespace ? "in any namespace" : $"in namespace '{p.Namespace}'";
        string wanted = Show(selector.Pairs);
        var closest = (anyNamespace ? pods : byNamespace[p.Namespace].Select(i => pods[i]))
            .Select(x => (Pod: x, Score: Score(selector, x.Labels)))
            .OrderByDescending(x => x.Score.Equal).ThenByDescending(x => x.Score.Keys).ThenBy(x => x.Score.Distance)
            .ThenBy(x => x.Pod.Display, StringComparer.Ordinal)
            .FirstOrDefault();
        string hint = closest.Pod is null ? "" : closest.Pod.Labels.Pairs.IsEmpty
            ? $"; the closest, {closest.Pod.Display}, has no labels"
            : $"; the closest label set is {Show(closest.Pod.Labels.Pairs)} ({closest.Pod.Display})";
        return $"no workload {where} has the labels {wanted}{hint}: check the selector labels";
    }

    /// <summary>How close a label set is to a selector: pairs equal, keys present, and the edit
    /// distance of the values of the keys present.</summary>
    private static (int Equal, int Keys, int Distance) Score(Labels selector, Labels labels)
    {
        int equal = 0, keys = 0, distance = 0;
        foreach (var (k, v) in selector.Pairs)
        {
            if (labels.Get(k) is not { } have)
            {
                var nearKey = ObjectReader.DidYouMean(k, labels.Pairs.Select(x => x.Key));
                if (nearKey is not null) distance += ObjectReader.Distance(k, nearKey, 8) + ObjectReader.Distance(v, labels.Get(nearKey)!, 32);
                else distance += 64;
                continue;
            }
            keys++;
            if (have == v) equal++;
            else distance += ObjectReader.Distance(v, have, 32);
        }
        return (equal, keys, distance);
    }

    private static string Show(IEnumerable<KeyValuePair<string, string>> pairs) =>
        "{" + string.Join(", ", pairs.OrderBy(x => x.Key, StringComparer.Ordinal).Take(6).Select(x => $"{x.Key}: {x.Value}")) + "}";

    private static string Few(List<string> names) =>
        string.Join(", ", names.Take(5).Select(n => $"'{n}'")) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");

    /// <summary>A policy whose every workload is not enforced (not enrolled, or on the host network):
    /// nothing enforces it.</summary>
    public void NotEnforced(PolicyModel pm, List<int> applied)
    {
        if (applied.Count == 0 || applied.Any(i => workloads[i].Enforced)) return;
        var names = applied.Select(i => pods[i].Display).Order(StringComparer.Ordinal).ToList();
        bool hostOnly = applied.All(i => workloads[i].NetworkMode == NetworkMode.HostNetwork);
        bool enrolledNone = applied.All(i => !workloads[i].Enrolled);
        string why = hostOnly ? "they use the host network, which the mesh does not capture"
            : enrolledNone ? "they are not enrolled; label their namespace istio.io/dataplane-mode=ambient (or remove istio.io/dataplane-mode=none from the pods)"
            : "they use the host network or are not enrolled (istio.io/dataplane-mode)";
        bag.Add(Codes.SelectsOnlyNotEnforced.CreateFor($"AuthorizationPolicy {pm.Policy.Key}", pm.TargetLocation,
            names.Count == 1 ? names[0] : $"{names[0]} and {names.Count - 1} more", why));
    }

    /// <summary>Identities named by a policy (exact principals, service accounts) that only host-network
    /// workloads hold: their traffic is not captured and carries no identity, so the match never holds.</summary>
    public void HostNetworkIdentities(List<PolicyModel> policies)
    {
        var holders = new Dictionary<(string Ns, string Sa), (int HostNetwork, int Other, string First)>();
        foreach (var w in workloads)
        {
            var k = (w.Namespace, w.ServiceAccount);
            var c = holders.TryGetValue(k, out var seen) ? seen : (HostNetwork: 0, Other: 0, First: w.Key);
            holders[k] = w.NetworkMode == NetworkMode.HostNetwork ? (c.HostNetwork + 1, c.Other, c.HostNetwork == 0 ? w.Key : c.First) : (c.HostNetwork, c.Other + 1, c.First);
        }
        if (!holders.Values.Any(h => h.HostNetwork > 0 && h.Other == 0)) return;
        string prefix = settings.TrustDomain + "/ns/";
        foreach (var pm in policies)
            foreach (var rule in pm.Policy.Rules)
                foreach (var clause in rule.Clauses)
                    foreach (var m in clause.Matches)
                    {
                        var named = m.ServiceAccounts.Select(sa => (sa.Namespace, sa.ServiceAccount, $"serviceAccount {sa.Namespace}/{sa.ServiceAccount}"))
                            .Concat(m.Principals.Where(x => x.Kind == StringMatchKind.Exact && x.Value.StartsWith(prefix, StringComparison.Ordinal))
                                .Select(x => x.Value[prefix.Length..].Split("/sa/") is [var ns, var sa] ? (ns, sa, $"principal {x.Value}") : ("", "", "")));
                        foreach (var (ns, sa, what) in named)
                            if (holders.TryGetValue((ns, sa), out var h) && h.HostNetwork > 0 && h.Other == 0)
                                bag.Add(Codes.HostNetworkIdentity.CreateFor($"AuthorizationPolicy {pm.Policy.Key}", m.Location, what, h.First));
                    }
    }
}
