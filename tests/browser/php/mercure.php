<?php
// The back end of the use case, with Debian's php-symfony-mercure (0.6.x):
//
//   php mercure.php publish --hub URL --secret KEY --topic T [--topic T2]
//                   [--data D] [--private] [--id ID] [--type TYPE] [--retry MS]
//                   [--static-token JWT]
//     Publishes like the back end: new Update($topics, $data, $private, ...)
//     then $hub->publish($update). Prints a JSON object: {"id": <what
//     publish() returned>, "token": <the JWT sent>}. Exit 1 and the message on
//     stderr when publish() throws.
//
//   php mercure.php cookie --hub URL --secret KEY --host APP_HOST --subscribe T
//                   [--samesite strict|lax|none]
//     Prints the Set-Cookie header value that Symfony's
//     Authorization::createCookie() builds at login for a request to APP_HOST.
//
// The token: symfony/mercure signs with Jwt\LcobucciFactory, which needs
// lcobucci/jwt, and Debian (bookworm) does not package lcobucci/jwt. So
// LcobucciShapedFactory below builds the same bytes that LcobucciFactory
// builds with lcobucci/jwt's defaults (header {"typ":"JWT","alg":"HS256"},
// claims in insertion order: exp first, then mercure {publish, subscribe}; exp
// as a float with microseconds, JSON without escaped slashes), and is handed
// to the component through its own interfaces: Jwt\TokenFactoryInterface and
// Jwt\FactoryTokenProvider (the provider the bundle wires for `jwt: {secret,
// publish}`). Jwt\StaticTokenProvider is the other provider (--static-token).

declare(strict_types=1);

// Debian's autoloaders: /usr/share/php is on PHP's include_path.
require_once 'Symfony/Component/Mercure/autoload.php';

use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Mercure\Authorization;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\HubRegistry;
use Symfony\Component\Mercure\Jwt\FactoryTokenProvider;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;
use Symfony\Component\Mercure\Jwt\TokenFactoryInterface;
use Symfony\Component\Mercure\Update;

final class LcobucciShapedFactory implements TokenFactoryInterface
{
    private $secret;
    private $jwtLifetime;

    public function __construct(string $secret, ?int $jwtLifetime = 0)
    {
        $this->secret = $secret;
        // As LcobucciFactory: 0 means session.cookie_lifetime, or 3600.
        $this->jwtLifetime = 0 === $jwtLifetime ? ((int) ini_get('session.cookie_lifetime') ?: 3600) : $jwtLifetime;
    }

    public function create(?array $subscribe = [], ?array $publish = [], array $additionalClaims = []): string
    {
        if (null !== $this->jwtLifetime && !array_key_exists('exp', $additionalClaims)) {
            $additionalClaims['exp'] = new DateTimeImmutable("+{$this->jwtLifetime} seconds");
        }
        $tokens = [];
        if (null !== $publish) {
            $tokens['publish'] = (array) $publish;
        }
        if (null !== $subscribe) {
            $tokens['subscribe'] = (array) $subscribe;
        }
        $additionalClaims['mercure'] = array_merge($tokens, $additionalClaims['mercure'] ?? []);

        $claims = [];
        foreach ($additionalClaims as $name => $value) {
            if ($value instanceof DateTimeInterface) {
                // lcobucci/jwt's MicrosecondBasedDateConversion.
                $value = '000000' === $value->format('u') ? (int) $value->format('U') : (float) $value->format('U.u');
            }
            if ('exp' === $name && null === $value) {
                continue;
            }
            $claims[$name] = $value;
        }
        $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
        $b64 = static fn (string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
        $input = $b64(json_encode(['typ' => 'JWT', 'alg' => 'HS256'], $flags)).'.'.$b64(json_encode($claims, $flags));

        return $input.'.'.$b64(hash_hmac('sha256', $input, $this->secret, true));
    }
}

function options(array $argv): array
{
    $out = ['topic' => [], 'subscribe' => []];
    for ($i = 0; $i < count($argv); ++$i) {
        $name = substr($argv[$i], 2);
        if ('private' === $name) {
            $out['private'] = true;
            continue;
        }
        $value = $argv[++$i] ?? '';
        if (is_array($out[$name] ?? null)) {
            $out[$name][] = $value;
        } else {
            $out[$name] = $value;
        }
    }
    return $out;
}

$command = $argv[1] ?? '';
$o = options(array_slice($argv, 2));
$factory = new LcobucciShapedFactory($o['secret'] ?? '');

if ('publish' === $command) {
    $provider = isset($o['static-token'])
        ? new StaticTokenProvider($o['static-token'])
        : new FactoryTokenProvider($factory, [], ['*']); // {"publish":["*"],"subscribe":[]}
    $hub = new Hub($o['hub'], $provider, $factory);
    $update = new Update(
        count($o['topic']) === 1 ? $o['topic'][0] : $o['topic'],
        $o['data'] ?? '',
        $o['private'] ?? false,
        $o['id'] ?? null,
        $o['type'] ?? null,
        isset($o['retry']) ? (int) $o['retry'] : null
    );
    try {
        $id = $hub->publish($update);
    } catch (Throwable $e) {
        fwrite(STDERR, get_class($e).': '.$e->getMessage().($e->getPrevious() ? ' ('.$e->getPrevious()->getMessage().')' : '')."\n");
        exit(1);
    }
    echo json_encode(['id' => $id, 'token' => $provider->getJwt()], JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

if ('cookie' === $command) {
    $hub = new Hub($o['hub'], new StaticTokenProvider('unused.unused.unused'), $factory);
    $authorization = new Authorization(new HubRegistry($hub), null, $o['samesite'] ?? 'strict');
    $request = Request::create('http://'.$o['host'].'/login');
    echo (string) $authorization->createCookie($request, $o['subscribe']), "\n";
    exit(0);
}

fwrite(STDERR, "usage: php mercure.php publish|cookie --hub URL --secret KEY ...\n");
exit(2);
