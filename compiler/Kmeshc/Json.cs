using System.Text;
using System.Text.Json;
using KmeshCompiler.Ir;

namespace Kmeshc;

/// <summary>Writes indented JSON with fields in the order given: the stable output of cli.md.</summary>
public static class Json
{
    public static string Write(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            body(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>A policy action as check's JSON and text spell it.</summary>
    public static string Action(PolicyAction a) => a == PolicyAction.Allow ? "ALLOW" : "DENY";

    /// <summary>The "dryRun" array of check's JSON (cli.md), the same for both engines.</summary>
    public static void DryRun(Utf8JsonWriter w, IEnumerable<(string Policy, PolicyAction Action, bool Matched)> policies)
    {
        w.WriteStartArray("dryRun");
        foreach (var (policy, action, matched) in policies)
        {
            w.WriteStartObject();
            w.WriteString("policy", policy);
            w.WriteString("action", Action(action));
            w.WriteBoolean("matched", matched);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
