using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>What a node agent holds after applying the responses of a snapshot in order: workloads by
/// uid, services by namespace/hostname, policies by namespace/name. A Delta response adds or replaces
/// resources and then removes the names in <c>removed_resources</c>; a state-of-the-world response
/// replaces every resource of its type.</summary>
internal sealed class SnapshotState
{
    private readonly Dictionary<string, Workload> _workloads = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Service> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Policy> _policies = new(StringComparer.Ordinal);

    public void Put(Workload w) => _workloads[w.Uid] = w;

    public void Put(Service s) => _services[s.Key] = s;

    public void Put(Policy p) => _policies[p.Key] = p;

    /// <summary>A decoded element: a <see cref="Workload"/>, <see cref="Service"/> or <see cref="Policy"/>.</summary>
    public void Put(object element)
    {
        switch (element)
        {
            case Workload w: Put(w); break;
            case Service s: Put(s); break;
            case Policy p: Put(p); break;
            default: throw new ArgumentException($"not a resource element: {element.GetType().Name}", nameof(element));
        }
    }

    /// <summary>State of the world: a response of this type is the whole set of that type.</summary>
    public void Reset(ResourceType type)
    {
        switch (type)
        {
            case ResourceType.Address: _workloads.Clear(); _services.Clear(); break;
            case ResourceType.Workload: _workloads.Clear(); break;
            case ResourceType.Authorization: _policies.Clear(); break;
        }
    }

    /// <summary>Applies one name of <c>removed_resources</c>: for Address, a workload uid first, then a
    /// service's namespace/hostname (xds.md); a response without a known type tries every kind.</summary>
    public void Remove(ResourceType type, string name, SourceLocation loc, DiagnosticBag bag)
    {
        bool removed = type switch
        {
            ResourceType.Address => _workloads.Remove(name) || _services.Remove(name),
            ResourceType.Workload => _workloads.Remove(name),
            ResourceType.Authorization => _policies.Remove(name),
            _ => _workloads.Remove(name) || _services.Remove(name) || _policies.Remove(name),
        };
        if (!removed) bag.Report(Codes.XdsRemovedUnknown, loc with { Resource = name }, name);
    }

    /// <summary>The world the state describes. Nodes and namespaces are not on the wire, so they are
    /// derived: a node for every workload's node name (its locality from the first workload by uid
    /// that names it, network empty), and a namespace for every object's namespace.</summary>
    public World ToWorld(DiagnosticBag bag)
    {
        var workloads = _workloads.Values.OrderBy(w => w.Uid, StringComparer.Ordinal).ToImmutableArray();
        // No workload with tunnel protocol HBONE: the snapshot says nothing about enrolment, so every
        // workload is enrolled (semantics.md §3, as a YAML world without the label).
        if (!workloads.Any(w => w.Enrolled)) workloads = [.. workloads.Select(w => w with { Enrolled = true })];
        var services = _services.Values.OrderBy(s => s.Key, StringComparer.Ordinal).ToImmutableArray();
        var policies = _policies.Values.OrderBy(p => p.Key, StringComparer.Ordinal).ToImmutableArray();

        var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
        var conflicted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var w in workloads)
        {
            if (w.Node.Length == 0) continue;
            if (!nodes.TryGetValue(w.Node, out var n)) nodes[w.Node] = new Node(w.Node, w.Locality, "", w.Location);
            else if (n.Locality != w.Locality && conflicted.Add(w.Node))
                bag.Report(Codes.XdsNodeLocalityConflict, w.Location, w.Node, n.Locality, w.Locality);
        }
        var namespaces = new Dictionary<string, Namespace>(StringComparer.Ordinal);
        void Ns(string name, SourceLocation loc)
        {
            if (name.Length > 0 && !namespaces.ContainsKey(name)) namespaces[name] = new Namespace(name, loc);
        }
        foreach (var w in workloads) Ns(w.Namespace, w.Location);
        foreach (var s in services) Ns(s.Namespace, s.Location);
        foreach (var p in policies) Ns(p.Namespace, p.Location);
        return new World([.. namespaces.Values], [.. nodes.Values], workloads, services, policies).Canonical();
    }
}
