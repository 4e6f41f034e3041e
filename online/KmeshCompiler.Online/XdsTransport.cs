using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KmeshCompiler.Online;

/// <summary>The client's configuration is unusable (a CA file that does not read or holds no
/// certificate, a server URL that is neither http nor https): no retry can help.</summary>
public sealed class XdsConfigurationException(string message) : Exception(message);

/// <summary>The HTTP/2 handler under the gRPC channel: h2c for <c>http://</c>, TLS for
/// <c>https://</c> verified against the CA file's roots (or the system's), with keepalive pings so a
/// dead connection is noticed.</summary>
internal sealed class XdsTransport
{
    private readonly XdsClientOptions _options;
    private readonly X509Certificate2Collection? _roots;
    private volatile string? _tlsFailure;

    public XdsTransport(XdsClientOptions options)
    {
        _options = options;
        if (options.Server.Scheme is not ("http" or "https"))
            throw new XdsConfigurationException($"the xDS server URL must start with http:// (plaintext HTTP/2) or https:// (TLS): {options.Server}");
        if (options.CaFile is { } ca)
        {
            if (options.Server.Scheme != "https") throw new XdsConfigurationException($"a CA file is for https:// servers; {options.Server} is plaintext");
            _roots = LoadRoots(ca);
        }
    }

    public static X509Certificate2Collection LoadRoots(string path)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new XdsConfigurationException($"cannot read the CA file {path}: {e.Message}");
        }
        if (roots.Count == 0) throw new XdsConfigurationException($"the CA file {path} holds no PEM certificate");
        return roots;
    }

    /// <summary>Why the last TLS handshake refused the server, once; null when none did.</summary>
    public string? TakeTlsFailure() => Interlocked.Exchange(ref _tlsFailure, null);

    public SocketsHttpHandler CreateHandler()
    {
        var h = new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = false,
        };
        if (_options.Server.Scheme == "https") h.SslOptions.RemoteCertificateValidationCallback = Validate;
        return h;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        string host = _options.Server.Host;
        if (certificate is null) return Fail($"TLS: {_options.Server.Authority} sent no certificate");
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return Fail($"TLS: the certificate of {_options.Server.Authority} ({leaf.Subject}) does not name {host}");
        if (_roots is null)
            return errors == SslPolicyErrors.None || Fail($"TLS: the certificate of {_options.Server.Authority} ({leaf.Subject}, issued by {leaf.Issuer}) is not trusted by the system's roots ({errors}); give the CA with --ca");
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var e in chain.ChainElements)
                if (!e.Certificate.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)) custom.ChainPolicy.ExtraStore.Add(e.Certificate);
        if (custom.Build(leaf)) return true;
        string why = string.Join(", ", custom.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        return Fail($"TLS: the certificate of {_options.Server.Authority} ({leaf.Subject}, issued by {leaf.Issuer}) does not chain to a root in the CA file {_options.CaFile} ({why})");
    }

    private bool Fail(string why)
    {
        _tlsFailure = why;
        return false;
    }
}
