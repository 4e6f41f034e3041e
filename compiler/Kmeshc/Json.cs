using System.Text;
using System.Text.Json;

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
}
