using System.Collections.Immutable;
using System.Text;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>The identity test of a match, lowered to source addresses (semantics.md §3, "Identity in
/// the kernel"): Never (no source passes), Always (every source passes: no test), or a set of world
/// addresses tested positively (the addresses whose identity passes; unknown sources fail) or
/// negatively (the addresses whose identity fails; unknown sources pass).</summary>
public readonly record struct IdentityTest(IdentityTestKind Kind, AddressSet? Set);

public enum IdentityTestKind { Always, Never, InSet, NotInSet }

/// <summary>Resolves identity by address exactly as the reference evaluator does (the first workload
/// by uid owns a shared address) and folds every identity field of a match into one
/// <see cref="IdentityTest"/>. Results are cached by the fields' content, since many matches share
/// them.</summary>
public sealed class IdentityLowering
{
    private sealed record IdGroup(Identity Identity, string Principal, List<IpAddr> Addresses);

    private readonly Dictionary<string, List<IdGroup>> _byNamespace = new(StringComparer.Ordinal);
    private readonly List<string> _namespaces;
    private readonly Dictionary<string, IdentityTest> _cache = new(StringComparer.Ordinal);

    private readonly Dictionary<string, IdGroup> _byPrincipal = new(StringComparer.Ordinal);

    /// <param name="owner">Every world address and the workload it resolves to.</param>
    public IdentityLowering(IReadOnlyDictionary<IpAddr, Workload> owner)
    {
        // Grouped by the identity's fields (one Identity per group, not per workload); a workload's
        // addresses are usually consecutive in the index, so its group is remembered.
        var groups = new Dictionary<(string TrustDomain, string Namespace, string ServiceAccount), IdGroup>();
        Workload? last = null;
        IdGroup? lastGroup = null;
        foreach (var (a, w) in owner)
        {
            if (!ReferenceEquals(w, last) || lastGroup is null)
            {
                var fields = (w.TrustDomain, w.Namespace, w.ServiceAccount);
                if (!groups.TryGetValue(fields, out var g))
                {
                    var id = w.Identity;
                    groups[fields] = g = new IdGroup(id, id.ToString(), new List<IpAddr>());
                    _byPrincipal[g.Principal] = g;
                    if (!_byNamespace.TryGetValue(id.Namespace, out var l)) _byNamespace[id.Namespace] = l = new();
                    l.Add(g);
                }
                last = w;
                lastGroup = g;
            }
            lastGroup.Addresses.Add(a);
        }
        _namespaces = _byNamespace.Keys.Order(StringComparer.Ordinal).ToList();
    }

    public static bool HasIdentityFields(Match m) =>
        !m.Namespaces.IsEmpty || !m.NotNamespaces.IsEmpty || !m.Principals.IsEmpty || !m.NotPrincipals.IsEmpty ||
        !m.ServiceAccounts.IsEmpty || !m.NotServiceAccounts.IsEmpty;

    public IdentityTest Lower(Match m)
    {
        if (!HasIdentityFields(m)) return new IdentityTest(IdentityTestKind.Always, null);
        string key = Key(m);
        if (_cache.TryGetValue(key, out var cached)) return cached;
        var result = Compute(m);
        _cache[key] = result;
        return result;
    }

    private IdentityTest Compute(Match m)
    {
        bool nonePasses = NamespacePair(m, "") && m.Principals.IsEmpty && m.ServiceAccounts.IsEmpty;
        bool perIdentity = !m.Principals.IsEmpty || !m.NotPrincipals.IsEmpty || !m.ServiceAccounts.IsEmpty || !m.NotServiceAccounts.IsEmpty;
        // Collect the addresses on the minority side: passing ones when unknown sources fail,
        // failing ones when they pass.
        var collected = new List<IpAddr>();
        if (!nonePasses && Narrowed(m) is { } few)
        {
            // Positive exact lists name the only identities that can pass: test just those.
            foreach (var g in few)
                if (NamespacePair(m, g.Identity.Namespace) && PrincipalPair(m, g.Principal) && ServiceAccountPair(m, g.Identity))
                    collected.AddRange(g.Addresses);
        }
        else
        {
            foreach (var ns in _namespaces)
            {
                bool nsPass = NamespacePair(m, ns);
                foreach (var g in _byNamespace[ns])
                {
                    bool pass = nsPass && (!perIdentity || (PrincipalPair(m, g.Principal) && ServiceAccountPair(m, g.Identity)));
                    if (pass != nonePasses) collected.AddRange(g.Addresses);
                }
            }
        }
        if (collected.Count == 0)
            return new IdentityTest(nonePasses ? IdentityTestKind.Always : IdentityTestKind.Never, null);
        return new IdentityTest(nonePasses ? IdentityTestKind.NotInSet : IdentityTestKind.InSet, AddressSet.Hosts(collected));
    }

    /// <summary>The identity groups a positive list of exact principals, service accounts or exact
    /// namespaces allows, or null when the match has no such list.</summary>
    private IEnumerable<IdGroup>? Narrowed(Match m)
    {
        if (!m.Principals.IsEmpty && m.Principals.All(p => p.Kind == StringMatchKind.Exact))
            return m.Principals.Select(p => _byPrincipal.GetValueOrDefault(p.Value)).OfType<IdGroup>().Distinct();
        if (!m.ServiceAccounts.IsEmpty)
            return m.ServiceAccounts.SelectMany(sa => _byNamespace.GetValueOrDefault(sa.Namespace) ?? [])
                .Where(g => m.ServiceAccounts.Any(sa => sa.Namespace == g.Identity.Namespace && sa.ServiceAccount == g.Identity.ServiceAccount)).Distinct();
        if (!m.Namespaces.IsEmpty && m.Namespaces.All(n => n.Kind == StringMatchKind.Exact))
            return m.Namespaces.Select(n => n.Value).Distinct().SelectMany(n => _byNamespace.GetValueOrDefault(n) ?? []);
        return null;
    }

    private static bool Pair<T>(ImmutableArray<T> pos, ImmutableArray<T> not, Func<T, bool> holds)
    {
        if (!pos.IsEmpty && !pos.Any(holds)) return false;
        return !not.Any(holds);
    }

    private static bool NamespacePair(Match m, string ns) => Pair(m.Namespaces, m.NotNamespaces, s => s.Matches(ns));

    private static bool PrincipalPair(Match m, string principal) => Pair(m.Principals, m.NotPrincipals, s => s.Matches(principal));

    private static bool ServiceAccountPair(Match m, Identity id) =>
        Pair(m.ServiceAccounts, m.NotServiceAccounts, sa => sa.Namespace == id.Namespace && sa.ServiceAccount == id.ServiceAccount);

    private static string Key(Match m)
    {
        var sb = new StringBuilder();
        void Strings(char tag, ImmutableArray<StringMatch> l)
        {
            foreach (var s in l) sb.Append(tag).Append((int)s.Kind).Append(':').Append(s.Value.Length).Append(':').Append(s.Value);
        }
        void Sas(char tag, ImmutableArray<ServiceAccountMatch> l)
        {
            foreach (var s in l) sb.Append(tag).Append(s.Namespace.Length).Append(':').Append(s.Namespace).Append(s.ServiceAccount.Length).Append(':').Append(s.ServiceAccount);
        }
        Strings('n', m.Namespaces); Strings('N', m.NotNamespaces);
        Strings('p', m.Principals); Strings('P', m.NotPrincipals);
        Sas('s', m.ServiceAccounts); Sas('S', m.NotServiceAccounts);
        return sb.ToString();
    }
}
