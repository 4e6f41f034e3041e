using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Semantics;

public sealed record DryRunMatch(Policy Policy, bool Matched);

/// <summary>The decision for one connection, and which policy made it (null for "no allow policies",
/// "workload not found" and "none allowed").</summary>
public sealed record Verdict(Decision Decision, string Reason, Policy? Policy, Workload? Destination, ImmutableArray<DryRunMatch> DryRun);

/// <summary>The reference evaluator: semantics.md §3 exactly, the way ztunnel evaluates a connection.
/// Construction indexes the world once (addresses → workloads, namespace → policies, key → policy), so
/// a decision costs a few dictionary lookups plus the candidate policies of one workload, never a scan
/// of every policy.</summary>
public sealed class Evaluator
{
    // Plain dictionaries: a CLI builds the index once per process, and frozen ones cost more to
    // build than they save on a handful of lookups.
    private readonly Dictionary<IpAddr, Workload> _byAddress;
    private readonly Dictionary<string, ImmutableArray<Policy>> _byNamespace;
    private readonly ImmutableArray<Policy> _global;
    private readonly Dictionary<string, Policy> _byKey;

    public World World { get; }

    public Evaluator(World world)
    {
        World = world;
        _byAddress = new Dictionary<IpAddr, Workload>(world.Workloads.Length);
        // The first workload (by uid) owns a shared address; validation reports the clash.
        foreach (var w in world.Workloads.OrderBy(w => w.Uid, StringComparer.Ordinal))
            foreach (var a in w.Addresses) _byAddress.TryAdd(a, w);
        var ordered = world.Policies.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        _byNamespace = ordered.Where(p => p.Scope == PolicyScope.Namespace)
            .GroupBy(p => p.Namespace, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToImmutableArray(), StringComparer.Ordinal);
        _global = ordered.Where(p => p.Scope == PolicyScope.Global).ToImmutableArray();
        _byKey = new Dictionary<string, Policy>(ordered.Count, StringComparer.Ordinal);
        foreach (var p in ordered) _byKey.TryAdd(p.Key, p);
    }

    public Workload? WorkloadAt(IpAddr address) => _byAddress.GetValueOrDefault(address);

    public Policy? PolicyByKey(string key) => _byKey.GetValueOrDefault(key);

    /// <summary>The identity the kernel would give this source: that of the workload owning the
    /// address, or none. A host-network pod lends no identity: its traffic is not captured, so it
    /// arrives as plaintext from its node's address (semantics.md §3).</summary>
    public Identity? IdentityOf(IpAddr source) => WorkloadAt(source) is { LendsIdentity: true } w ? w.Identity : null;

    public Connection ResolveIdentity(Connection c) => c with { SourceIdentity = IdentityOf(c.Source) };

    /// <summary>NAMESPACE policies of the workload's namespace, GLOBAL policies, then the
    /// WORKLOAD_SELECTOR policies attached to it (names that resolve to no selector policy are
    /// ignored, as ztunnel ignores a name it has no policy for).</summary>
    public IEnumerable<Policy> Candidates(Workload w)
    {
        if (_byNamespace.TryGetValue(w.Namespace, out var ns))
            foreach (var p in ns) yield return p;
        foreach (var p in _global) yield return p;
        foreach (var name in w.AuthorizationPolicies)
            if (_byKey.TryGetValue(name, out var p) && p.Scope == PolicyScope.WorkloadSelector) yield return p;
    }

    /// <summary>The policies that decide connections to <paramref name="w"/>: none when the mesh does
    /// not enforce it (<see cref="Decide(Workload, Connection)"/> lets every connection through), else
    /// its candidates that are not dry-run.</summary>
    public IEnumerable<Policy> Enforcing(Workload w) => w.Enforced ? Candidates(w).Where(p => !p.DryRun) : [];

    /// <summary>The workloads whose connections <paramref name="p"/> decides: the inverse of
    /// <see cref="Enforcing"/> (and of <see cref="Candidates"/> for the workloads the mesh enforces).</summary>
    public IEnumerable<Workload> EnforcedBy(Policy p)
    {
        if (p.DryRun) return [];
        var scoped = p.Scope switch
        {
            PolicyScope.Global => World.Workloads.AsEnumerable(),
            PolicyScope.Namespace => World.Workloads.Where(w => w.Namespace == p.Namespace),
            _ => World.Workloads.Where(w => w.AuthorizationPolicies.Contains(p.Key) && ReferenceEquals(PolicyByKey(p.Key), p)),
        };
        return scoped.Where(w => w.Enforced);
    }

    public Verdict Decide(Connection c)
    {
        var w = WorkloadAt(c.Destination);
        if (w is null) return new Verdict(Decision.Deny, Reasons.WorkloadNotFound, null, null, []);
        return Decide(w, c);
    }

    /// <summary>The decision for a connection to <paramref name="w"/> (also a pod template, which has
    /// no address of its own): a workload the mesh does not enforce lets every connection through.</summary>
    public Verdict Decide(Workload w, Connection c)
    {
        if (!w.Enforced) return new Verdict(Decision.Allow, Reasons.NotEnforced, null, w, []);
        Policy? deny = null, allow = null;
        bool anyAllow = false;
        var dry = ImmutableArray.CreateBuilder<DryRunMatch>();
        foreach (var p in Candidates(w))
        {
            if (p.DryRun) { dry.Add(new DryRunMatch(p, PolicyMatches(p, c))); continue; }
            if (p.Action == PolicyAction.Deny) { if (deny is null && PolicyMatches(p, c)) deny = p; }
            else
            {
                anyAllow = true;
                if (allow is null && PolicyMatches(p, c)) allow = p;
            }
        }
        var dr = dry.ToImmutable();
        if (deny is not null) return new Verdict(Decision.Deny, Reasons.ExplicitlyDenied, deny, w, dr);
        if (!anyAllow) return new Verdict(Decision.Allow, Reasons.NoAllowPolicies, null, w, dr);
        if (allow is not null) return new Verdict(Decision.Allow, Reasons.AllowedByPolicy, allow, w, dr);
        return new Verdict(Decision.Deny, Reasons.NoneAllowed, null, w, dr);
    }

    public static bool PolicyMatches(Policy p, Connection c)
    {
        foreach (var r in p.Rules) if (RuleMatches(r, c)) return true;
        return false;
    }

    public static bool RuleMatches(Rule r, Connection c)
    {
        foreach (var cl in r.Clauses) if (!ClauseMatches(cl, c)) return false;
        return true;
    }

    public static bool ClauseMatches(Clause cl, Connection c)
    {
        if (cl.Matches.IsEmpty) return true;
        foreach (var m in cl.Matches) if (MatchMatches(m, c)) return true;
        return false;
    }

    public static bool MatchMatches(Match m, Connection c) => !m.IsEmpty && FirstFailingField(m, c) is null;

    /// <summary>The name of the first field pair that fails, or null when every pair passes. Field
    /// order is the order of the wire message.</summary>
    public static string? FirstFailingField(Match m, Connection c)
    {
        var id = c.SourceIdentity;
        string ns = id?.Namespace ?? "";
        if (!Pair(m.Namespaces, m.NotNamespaces, s => s.Matches(ns), out var neg)) return neg ? "notNamespaces" : "namespaces";
        string principal = id?.ToString() ?? "";
        if (!Pair(m.Principals, m.NotPrincipals, s => id is not null && s.Matches(principal), out neg)) return neg ? "notPrincipals" : "principals";
        if (!Pair(m.SourceIps, m.NotSourceIps, p => p.Contains(c.Source), out neg)) return neg ? "notSourceIps" : "sourceIps";
        if (!Pair(m.DestinationIps, m.NotDestinationIps, p => p.Contains(c.Destination), out neg)) return neg ? "notDestinationIps" : "destinationIps";
        if (!Pair(m.DestinationPorts, m.NotDestinationPorts, p => p == c.Port, out neg)) return neg ? "notDestinationPorts" : "destinationPorts";
        if (!Pair(m.ServiceAccounts, m.NotServiceAccounts,
                sa => id is not null && sa.Namespace == id.Namespace && sa.ServiceAccount == id.ServiceAccount, out neg))
            return neg ? "notServiceAccounts" : "serviceAccounts";
        return null;
    }

    private static bool Pair<T>(ImmutableArray<T> pos, ImmutableArray<T> not, Func<T, bool> holds, out bool negativeFailed)
    {
        negativeFailed = false;
        if (!pos.IsEmpty)
        {
            bool any = false;
            foreach (var x in pos) if (holds(x)) { any = true; break; }
            if (!any) return false;
        }
        foreach (var x in not)
            if (holds(x)) { negativeFailed = true; return false; }
        return true;
    }
}
