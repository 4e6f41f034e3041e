using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Semantics;

public sealed record MatchTrace(int Index, bool Matched, string Detail, SourceLocation Location);

public sealed record ClauseTrace(int Index, bool Matched, string Detail, ImmutableArray<MatchTrace> Matches, SourceLocation Location);

public sealed record RuleTrace(int Index, bool Matched, string Detail, ImmutableArray<ClauseTrace> Clauses, SourceLocation Location);

/// <summary>One candidate policy and its result. Role is "deny", "allow" or "dry-run".</summary>
public sealed record PolicyTrace(Policy Policy, string Role, bool Matched, string Detail, ImmutableArray<RuleTrace> Rules);

/// <summary>A decision with every candidate policy, rule, clause and match evaluated in full (no
/// short-circuit), so a person can see each element's result.</summary>
public sealed record Explanation(Connection Connection, Verdict Verdict, ImmutableArray<PolicyTrace> Policies);

public static class Explainer
{
    public static Explanation Explain(this Evaluator ev, Connection c) => Explain(ev, c, ev.Decide(c));

    /// <summary>The explanation for a connection to a given workload (a pod template included).</summary>
    public static Explanation Explain(this Evaluator ev, Workload destination, Connection c) => Explain(ev, c, ev.Decide(destination, c));

    private static Explanation Explain(Evaluator ev, Connection c, Verdict verdict)
    {
        if (verdict.Destination is null || verdict.Reason == Reasons.NotEnforced) return new Explanation(c, verdict, []);
        var traces = ImmutableArray.CreateBuilder<PolicyTrace>();
        foreach (var p in ev.Candidates(verdict.Destination))
        {
            var rules = p.Rules.Select((r, i) => TraceRule(r, i, c)).ToImmutableArray();
            bool matched = rules.Any(r => r.Matched);
            string role = p.DryRun ? "dry-run" : p.Action == PolicyAction.Deny ? "deny" : "allow";
            string detail = p.Rules.IsEmpty ? "no rules: never matches"
                : matched ? $"rule {rules.First(r => r.Matched).Index} matched" : "no rule matched";
            traces.Add(new PolicyTrace(p, role, matched, detail, rules));
        }
        return new Explanation(c, verdict, traces.ToImmutable());
    }

    private static RuleTrace TraceRule(Rule r, int index, Connection c)
    {
        var clauses = r.Clauses.Select((cl, i) => TraceClause(cl, i, c)).ToImmutableArray();
        bool matched = clauses.All(x => x.Matched);
        string detail = r.Clauses.IsEmpty ? "no clauses: always matches"
            : matched ? "every clause matched" : $"clause {clauses.First(x => !x.Matched).Index} did not match";
        return new RuleTrace(index, matched, detail, clauses, r.Location);
    }

    private static ClauseTrace TraceClause(Clause cl, int index, Connection c)
    {
        var matches = cl.Matches.Select((m, i) => TraceMatch(m, i, c)).ToImmutableArray();
        bool matched = cl.Matches.IsEmpty || matches.Any(m => m.Matched);
        string detail = cl.Matches.IsEmpty ? "no matches: always matches"
            : matched ? $"match {matches.First(m => m.Matched).Index} matched" : "no match matched";
        return new ClauseTrace(index, matched, detail, matches, cl.Location);
    }

    private static MatchTrace TraceMatch(Match m, int index, Connection c)
    {
        if (m.IsEmpty) return new MatchTrace(index, false, "empty match: never matches (its fields were all L7 or ignored)", m.Location);
        var failing = Evaluator.FirstFailingField(m, c);
        return new MatchTrace(index, failing is null, failing is null ? "every field passed" : Describe(m, failing, c), m.Location);
    }

    private static string Describe(Match m, string field, Connection c)
    {
        string id = c.SourceIdentity?.ToString() ?? "no identity";
        return field switch
        {
            "namespaces" => $"source namespace '{c.SourceIdentity?.Namespace ?? ""}' ({id}) is not in [{Join(m.Namespaces)}]",
            "notNamespaces" => $"source namespace '{c.SourceIdentity?.Namespace ?? ""}' is excluded by notNamespaces [{Join(m.NotNamespaces)}]",
            "principals" => c.SourceIdentity is null ? $"principals [{Join(m.Principals)}] need an identity; the source has none"
                : $"principal {id} is not in [{Join(m.Principals)}]",
            "notPrincipals" => $"principal {id} is excluded by notPrincipals [{Join(m.NotPrincipals)}]",
            "sourceIps" => $"source {c.Source} is not in [{Join(m.SourceIps)}]",
            "notSourceIps" => $"source {c.Source} is excluded by notIpBlocks [{Join(m.NotSourceIps)}]",
            "destinationIps" => $"destination {c.Destination} is not in [{Join(m.DestinationIps)}]",
            "notDestinationIps" => $"destination {c.Destination} is excluded by [{Join(m.NotDestinationIps)}]",
            "destinationPorts" => $"port {c.Port} is not in [{Join(m.DestinationPorts)}]",
            "notDestinationPorts" => $"port {c.Port} is excluded by notPorts [{Join(m.NotDestinationPorts)}]",
            "serviceAccounts" => c.SourceIdentity is null ? $"serviceAccounts [{Join(m.ServiceAccounts)}] need an identity; the source has none"
                : $"service account {c.SourceIdentity.Namespace}/{c.SourceIdentity.ServiceAccount} is not in [{Join(m.ServiceAccounts)}]",
            "notServiceAccounts" => $"service account {c.SourceIdentity?.Namespace}/{c.SourceIdentity?.ServiceAccount} is excluded by [{Join(m.NotServiceAccounts)}]",
            _ => field,
        };
    }

    private static string Join<T>(ImmutableArray<T> xs) => string.Join(", ", xs.Select(x => x?.ToString()));
}
