using System.Collections.Immutable;

namespace KmeshCompiler.Ir;

public enum PolicyScope { Global = 0, Namespace = 1, WorkloadSelector = 2 }

public enum PolicyAction { Allow = 0, Deny = 1 }

/// <summary>An enforced L4 authorization policy (istio.security.Authorization). The levels and their
/// empty-list meanings are those of semantics.md §3: a policy with no rules never matches; a rule
/// with no clauses always matches; a clause with no matches always matches; an empty match never
/// matches.</summary>
public sealed record Policy(
    string Name,
    string Namespace,
    PolicyScope Scope,
    PolicyAction Action,
    bool DryRun,
    ImmutableArray<Rule> Rules,
    SourceLocation Location)
{
    /// <summary>The policy's name in the IR and on the wire: "namespace/name".</summary>
    public string Key => $"{Namespace}/{Name}";
}

public sealed record Rule(ImmutableArray<Clause> Clauses, SourceLocation Location);

public sealed record Clause(ImmutableArray<Match> Matches, SourceLocation Location);

public enum StringMatchKind { Exact = 0, Prefix = 1, Suffix = 2, Presence = 3 }

public sealed record StringMatch(StringMatchKind Kind, string Value)
{
    public bool Matches(string s) => Kind switch
    {
        StringMatchKind.Exact => string.Equals(s, Value, StringComparison.Ordinal),
        StringMatchKind.Prefix => s.StartsWith(Value, StringComparison.Ordinal),
        StringMatchKind.Suffix => s.EndsWith(Value, StringComparison.Ordinal),
        StringMatchKind.Presence => s.Length > 0,
        _ => false,
    };

    /// <summary>The Istio spelling: "*", "x*", "*x" or "x".</summary>
    public override string ToString() => Kind switch
    {
        StringMatchKind.Exact => Value,
        StringMatchKind.Prefix => Value + "*",
        StringMatchKind.Suffix => "*" + Value,
        _ => "*",
    };
}

public sealed record ServiceAccountMatch(string Namespace, string ServiceAccount)
{
    public override string ToString() => $"{Namespace}/{ServiceAccount}";
}

/// <summary>One match: every (positive, negative) pair must pass; a pair passes when the positive list
/// is empty or one entry holds, and the negative list is empty or none holds. A match with no field
/// set never matches.</summary>
public sealed record Match(
    ImmutableArray<StringMatch> Namespaces,
    ImmutableArray<StringMatch> NotNamespaces,
    ImmutableArray<StringMatch> Principals,
    ImmutableArray<StringMatch> NotPrincipals,
    ImmutableArray<IpPrefix> SourceIps,
    ImmutableArray<IpPrefix> NotSourceIps,
    ImmutableArray<IpPrefix> DestinationIps,
    ImmutableArray<IpPrefix> NotDestinationIps,
    ImmutableArray<uint> DestinationPorts,
    ImmutableArray<uint> NotDestinationPorts,
    ImmutableArray<ServiceAccountMatch> ServiceAccounts,
    ImmutableArray<ServiceAccountMatch> NotServiceAccounts,
    SourceLocation Location)
{
    public static Match Empty(SourceLocation location) => new([], [], [], [], [], [], [], [], [], [], [], [], location);

    public bool IsEmpty =>
        Namespaces.IsEmpty && NotNamespaces.IsEmpty && Principals.IsEmpty && NotPrincipals.IsEmpty &&
        SourceIps.IsEmpty && NotSourceIps.IsEmpty && DestinationIps.IsEmpty && NotDestinationIps.IsEmpty &&
        DestinationPorts.IsEmpty && NotDestinationPorts.IsEmpty && ServiceAccounts.IsEmpty && NotServiceAccounts.IsEmpty;
}
