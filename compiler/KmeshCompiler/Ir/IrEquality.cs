using System.Collections;
using System.Collections.Immutable;
using System.Reflection;

namespace KmeshCompiler.Ir;

/// <summary>Structural equality of IR values that ignores source locations: the same world read from
/// YAML, from a snapshot or from text compares equal. <see cref="FirstDifference"/> names the path of
/// the first difference, for test failures and for <c>kmeshc diff</c>.</summary>
public static class IrEquality
{
    public static bool Equal<T>(T a, T b) => FirstDifference(a, b) is null;

    public static string? FirstDifference<T>(T a, T b) => Diff(a, b, typeof(T).Name);

    private static string? Diff(object? a, object? b, string path)
    {
        if (a is null || b is null) return a is null && b is null ? null : $"{path}: {Show(a)} vs {Show(b)}";
        if (a is SourceLocation) return null;
        var t = a.GetType();
        if (t != b.GetType()) return $"{path}: {t.Name} vs {b.GetType().Name}";
        if (t.IsPrimitive || t.IsEnum || a is string || a is IpAddr || a is IpPrefix || a is UInt128)
            return a.Equals(b) ? null : $"{path}: {Show(a)} vs {Show(b)}";
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(ImmutableArray<>))
        {
            var la = ((IEnumerable)a).Cast<object?>().ToList();
            var lb = ((IEnumerable)b).Cast<object?>().ToList();
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (Diff(la[i], lb[i], $"{path}[{i}]") is { } d) return d;
            return la.Count == lb.Count ? null : $"{path}: {la.Count} items vs {lb.Count}";
        }
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.PropertyType == typeof(SourceLocation)) continue;
            if (p.GetMethod is null || p.DeclaringType == typeof(object)) continue;
            // Only constructor-backed state: derived properties follow from it.
            if (!HasBackingParameter(t, p.Name)) continue;
            if (Diff(p.GetValue(a), p.GetValue(b), $"{path}.{p.Name}") is { } d) return d;
        }
        return null;
    }

    private static bool HasBackingParameter(Type t, string name) =>
        t.GetConstructors().Any(c => c.GetParameters().Any(p => p.Name == name));

    private static string Show(object? o) => o switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => o.ToString() ?? "",
    };
}
