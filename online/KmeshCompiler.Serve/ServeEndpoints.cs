using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace KmeshCompiler.Serve;

/// <summary>The HTTP side of <c>kmeshc serve</c> on one address (<c>--metrics</c>): Prometheus text
/// at <see cref="MetricsPath"/> (prometheus-net's exporter), <see cref="HealthPath"/> and
/// <see cref="ReadyPath"/> (200 "ok" or 503 with the reason). Served by Kestrel.</summary>
public sealed class ServeEndpoints : IAsyncDisposable
{
    public const string MetricsPath = "/metrics";
    public const string HealthPath = "/healthz";
    public const string ReadyPath = "/readyz";
    public const int DefaultPort = 15200;
    public const string DefaultAddress = "127.0.0.1:15200";

    private readonly WebApplication _app;

    /// <summary>The address listened on (the real port when 0 was asked for).</summary>
    public IPEndPoint Bound { get; }

    private ServeEndpoints(WebApplication app, IPEndPoint bound)
    {
        _app = app;
        Bound = bound;
    }

    /// <summary>IP:PORT (IPv6 in brackets); null with the reason in <paramref name="error"/> otherwise.</summary>
    public static IPEndPoint? ParseAddress(string text, out string? error)
    {
        error = null;
        if (IPEndPoint.TryParse(text, out var ep) && ep.Port is >= 0 and <= 65535 && (text.Contains("]:") || (ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Contains(':'))))
            return ep;
        error = $"'{text}' is not an address to listen on: give IP:PORT, such as {DefaultAddress} or [::1]:{DefaultPort}";
        return null;
    }

    public static async Task<ServeEndpoints> StartAsync(IPEndPoint at, ServeMetrics metrics, Func<ProbeResult> health, Func<ProbeResult> ready, ILoggerFactory logs, CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(logs);
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.Listen(at);
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        app.UseRouting();
        app.MapMetrics(MetricsPath, metrics.Registry);
        app.MapGet(HealthPath, (RequestDelegate)(c => Answer(c, health())));
        app.MapGet(ReadyPath, (RequestDelegate)(c => Answer(c, ready())));
        await app.StartAsync(ct);
        var bound = at;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses?.FirstOrDefault() is { } a && Uri.TryCreate(a, UriKind.Absolute, out var uri)) bound = new IPEndPoint(at.Address, uri.Port);
        return new ServeEndpoints(app, bound);
    }

    private static Task Answer(HttpContext c, ProbeResult r)
    {
        c.Response.StatusCode = r.Ok ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        c.Response.ContentType = "text/plain; charset=utf-8";
        return c.Response.WriteAsync(r.Reason + "\n");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
