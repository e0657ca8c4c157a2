package server_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer"
)

func TestKMSKeys(t *testing.T)         { bothStores(t, serverOpts{}, testKMSKeys) }
func TestKMSAliases(t *testing.T)      { bothStores(t, serverOpts{}, testKMSAliases) }
func TestKMSCrypto(t *testing.T)       { bothStores(t, serverOpts{}, testKMSCrypto) }
func TestKMSRotation(t *testing.T)     { bothStores(t, serverOpts{}, testKMSRotation) }
func TestKMSDeletion(t *testing.T)     { bothStores(t, serverOpts{}, testKMSDeletion) }
func TestKMSTagsPolicies(t *testing.T) { bothStores(t, serverOpts{}, testKMSTagsPolicies) }

// kmsClient returns an aws-sdk-go-v2 KMS client for the server, without retries.
func (s *testServer) kmsClient(region string) *kms.Client {
	cfg := aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(s.Creds.AccessKeyID, s.Creds.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func createKey(t *testing.T, k *kms.Client, desc string) *ktypes.KeyMetadata {
	t.Helper()
	out := must(k.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(desc)})).get(t)
	return out.KeyMetadata
}

func testKMSKeys(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()

	md := createKey(t, k, "first key")
	arn := "arn:aws:kms:us-east-1:" + s.Account + ":key/" + *md.KeyId
	if *md.Arn != arn || *md.AWSAccountId != s.Account || !md.Enabled || md.KeyState != ktypes.KeyStateEnabled ||
		md.KeyManager != ktypes.KeyManagerTypeCustomer || md.KeySpec != ktypes.KeySpecSymmetricDefault ||
		md.KeyUsage != ktypes.KeyUsageTypeEncryptDecrypt || md.Origin != ktypes.OriginTypeAwsKms ||
		*md.Description != "first key" || md.CreationDate == nil || len(md.EncryptionAlgorithms) != 1 ||
		md.CurrentKeyMaterialId == nil || len(*md.CurrentKeyMaterialId) != 64 || md.DeletionDate != nil {
		t.Fatalf("CreateKey metadata %+v", md)
	}
	must(k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/first"), TargetKeyId: md.KeyId})).get(t)
	for _, ref := range []string{*md.KeyId, arn, "alias/first", "arn:aws:kms:us-east-1:" + s.Account + ":alias/first"} {
		d := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})).get(t)
		if *d.KeyMetadata.KeyId != *md.KeyId {
			t.Fatalf("DescribeKey %s: %s", ref, *d.KeyMetadata.KeyId)
		}
	}
	_, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-4333-8444-555555555555")})
	wantErr(t, err, "NotFoundException", "Key 'arn:aws:kms:us-east-1:"+s.Account+":key/11111111-2222-4333-8444-555555555555' does not exist")
	_, err = k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	wantErr(t, err, "NotFoundException", "Alias 'arn:aws:kms:us-east-1:"+s.Account+":alias/none' is not found.")
	_, err = k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("not-a-key")})
	wantErr(t, err, "NotFoundException", "Invalid keyId 'not-a-key'")
	// Another region is another namespace: the key is not there.
	_, err = k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:us-west-2:" + s.Account + ":key/" + *md.KeyId)})
	wantErr(t, err, "NotFoundException", "")

	_, err = k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: ktypes.KeySpecRsa2048, KeyUsage: ktypes.KeyUsageTypeSignVerify})
	wantErr(t, err, "UnsupportedOperationException", "")
	_, err = k.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String("{not json")})
	wantErr(t, err, "MalformedPolicyDocumentException", "")
	_, err = k.CreateKey(ctx, &kms.CreateKeyInput{Tags: []ktypes.Tag{{TagKey: aws.String("aws:x"), TagValue: aws.String("v")}}})
	wantErr(t, err, "TagException", "")

	// ListKeys pages by Limit and Marker.
	second, third := createKey(t, k, "second"), createKey(t, k, "third")
	want := map[string]bool{*md.KeyId: true, *second.KeyId: true, *third.KeyId: true}
	var marker *string
	seen := map[string]bool{}
	pages := 0
	for {
		p := must(k.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2), Marker: marker})).get(t)
		pages++
		for _, e := range p.Keys {
			if seen[*e.KeyId] || *e.KeyArn != "arn:aws:kms:us-east-1:"+s.Account+":key/"+*e.KeyId {
				t.Fatalf("ListKeys entry %s %s (seen %v)", *e.KeyId, *e.KeyArn, seen[*e.KeyId])
			}
			seen[*e.KeyId] = true
		}
		if !p.Truncated {
			if p.NextMarker != nil {
				t.Fatal("a last page with NextMarker")
			}
			break
		}
		marker = p.NextMarker
	}
	if len(seen) != 3 || pages != 2 || !seen[*md.KeyId] || !want[*third.KeyId] || !seen[*third.KeyId] {
		t.Fatalf("ListKeys saw %v in %d pages", seen, pages)
	}
	_, err = k.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("!!")})
	wantErr(t, err, "InvalidMarkerException", "")
	_, err = k.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(0)})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")

	must(k.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: md.KeyId, Description: aws.String("renamed")})).get(t)
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId})).get(t)
	d := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})).get(t).KeyMetadata
	if d.Enabled || d.KeyState != ktypes.KeyStateDisabled || *d.Description != "renamed" {
		t.Fatalf("after DisableKey %+v", d)
	}
	must(k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId})).get(t)
	if d := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})).get(t).KeyMetadata; !d.Enabled {
		t.Fatal("EnableKey left the key disabled")
	}
	// Management operations take a key id or ARN, not an alias.
	_, err = k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/first")})
	wantErr(t, err, "NotFoundException", "")
	// Errors in KMS bodies say "message"; a raw call sees the member name.
	status, m := s.rawCallService(t, "kms", "TrentService.DescribeKey", []byte(`{"KeyId":"alias/none"}`))
	if status != 400 || m["__type"] != "NotFoundException" || m["message"] == nil || m["Message"] != nil {
		t.Fatalf("raw KMS error %d %v", status, m)
	}
}

func testKMSAliases(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()
	a, b := createKey(t, k, "a"), createKey(t, k, "b")
	must(k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: a.KeyId})).get(t)
	_, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: b.KeyId})
	wantErr(t, err, "AlreadyExistsException", "An alias with the name arn:aws:kms:us-east-1:"+s.Account+":alias/app already exists")
	_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("app2"), TargetKeyId: b.KeyId})
	wantErr(t, err, "InvalidAliasNameException", "")
	_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: b.KeyId})
	wantErr(t, err, "InvalidAliasNameException", "")
	_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/bad name"), TargetKeyId: b.KeyId})
	wantErr(t, err, "ValidationException", "")
	_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/other"), TargetKeyId: aws.String("alias/app")})
	wantErr(t, err, "NotFoundException", "")
	must(k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/b"), TargetKeyId: b.KeyId})).get(t)

	names := func(in *kms.ListAliasesInput) []string {
		var out []string
		for _, e := range must(k.ListAliases(ctx, in)).get(t).Aliases {
			if *e.AliasArn != "arn:aws:kms:us-east-1:"+s.Account+":"+*e.AliasName || e.CreationDate == nil {
				t.Fatalf("alias entry %+v", e)
			}
			out = append(out, *e.AliasName+"→"+aws.ToString(e.TargetKeyId))
		}
		return out
	}
	if got := strings.Join(names(&kms.ListAliasesInput{}), ","); got != "alias/app→"+*a.KeyId+",alias/b→"+*b.KeyId {
		t.Fatalf("ListAliases %s", got)
	}
	must(k.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: b.KeyId})).get(t)
	if got := strings.Join(names(&kms.ListAliasesInput{KeyId: b.KeyId}), ","); got != "alias/app→"+*b.KeyId+",alias/b→"+*b.KeyId {
		t.Fatalf("ListAliases of b %s", got)
	}
	if got := names(&kms.ListAliasesInput{KeyId: a.KeyId}); len(got) != 0 {
		t.Fatalf("ListAliases of a %v", got)
	}
	p := must(k.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(1)})).get(t)
	if !p.Truncated || len(p.Aliases) != 1 || p.NextMarker == nil {
		t.Fatalf("first page %+v", p)
	}
	p = must(k.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(1), Marker: p.NextMarker})).get(t)
	if p.Truncated || len(p.Aliases) != 1 || *p.Aliases[0].AliasName != "alias/b" {
		t.Fatalf("second page %+v", p)
	}
	_, err = k.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/none"), TargetKeyId: b.KeyId})
	wantErr(t, err, "NotFoundException", "Alias 'arn:aws:kms:us-east-1:"+s.Account+":alias/none' is not found.")
	must(k.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})).get(t)
	_, err = k.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantErr(t, err, "NotFoundException", "")
	if got := names(&kms.ListAliasesInput{}); len(got) != 1 {
		t.Fatalf("after DeleteAlias %v", got)
	}
	// The managed key's alias cannot be taken over.
	sm := s.client("us-east-1")
	must(sm.CreateSecret(ctx, secretInput("managed", "v"))).get(t)
	_, err = k.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/secretsmanager")})
	wantErr(t, err, "InvalidAliasNameException", "")
	_, err = k.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/aws/secretsmanager"), TargetKeyId: b.KeyId})
	wantErr(t, err, "InvalidAliasNameException", "")
}

func testKMSCrypto(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()
	a, b := createKey(t, k, "a"), createKey(t, k, "b")
	ec := map[string]string{"purpose": "test", "tenant": "t1"}
	enc := must(k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("hello"), EncryptionContext: ec})).get(t)
	if *enc.KeyId != *a.Arn || enc.EncryptionAlgorithm != ktypes.EncryptionAlgorithmSpecSymmetricDefault || bytes.Contains(enc.CiphertextBlob, []byte("hello")) {
		t.Fatalf("Encrypt %+v", enc)
	}
	dec := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})).get(t)
	if string(dec.Plaintext) != "hello" || *dec.KeyId != *a.Arn || dec.KeyMaterialId == nil || *dec.KeyMaterialId != *a.CurrentKeyMaterialId {
		t.Fatalf("Decrypt %+v", dec)
	}
	_, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other", "tenant": "t1"}})
	wantErr(t, err, "InvalidCiphertextException", "")
	_, err = k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantErr(t, err, "InvalidCiphertextException", "")
	for i := range enc.CiphertextBlob {
		bad := bytes.Clone(enc.CiphertextBlob)
		bad[i] ^= 0x01
		if _, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: bad, EncryptionContext: ec}); err == nil {
			t.Fatalf("a blob with byte %d changed decrypted", i)
		}
	}
	_, err = k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: b.KeyId})
	wantErr(t, err, "IncorrectKeyException", "")
	must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: a.Arn})).get(t)

	re := must(k.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: b.KeyId})).get(t)
	if *re.SourceKeyId != *a.Arn || *re.KeyId != *b.Arn {
		t.Fatalf("ReEncrypt %+v", re)
	}
	if got := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob})).get(t); string(got.Plaintext) != "hello" || *got.KeyId != *b.Arn {
		t.Fatalf("Decrypt after ReEncrypt: key %s", *got.KeyId)
	}

	dk := must(k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: a.KeyId, KeySpec: ktypes.DataKeySpecAes256, EncryptionContext: ec})).get(t)
	if len(dk.Plaintext) != 32 || *dk.KeyId != *a.Arn {
		t.Fatalf("GenerateDataKey %d bytes, key %s", len(dk.Plaintext), *dk.KeyId)
	}
	if got := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})).get(t); !bytes.Equal(got.Plaintext, dk.Plaintext) {
		t.Fatal("the data key's blob does not decrypt to its plaintext")
	}
	if dk := must(k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: a.KeyId, NumberOfBytes: aws.Int32(7)})).get(t); len(dk.Plaintext) != 7 {
		t.Fatalf("NumberOfBytes 7 gave %d", len(dk.Plaintext))
	}
	if dk := must(k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: a.KeyId, KeySpec: ktypes.DataKeySpecAes128})).get(t); len(dk.Plaintext) != 16 {
		t.Fatalf("AES_128 gave %d", len(dk.Plaintext))
	}
	_, err = k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: a.KeyId})
	wantErr(t, err, "ValidationException", "Please specify either number of bytes or key spec.")
	_, err = k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: a.KeyId, KeySpec: ktypes.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)})
	wantErr(t, err, "ValidationException", "Please specify either number of bytes or key spec.")
	np := must(k.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: a.KeyId, KeySpec: ktypes.DataKeySpecAes256})).get(t)
	if len(np.CiphertextBlob) == 0 {
		t.Fatal("GenerateDataKeyWithoutPlaintext without a blob")
	}
	if got := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: np.CiphertextBlob})).get(t); len(got.Plaintext) != 32 {
		t.Fatalf("the data key is %d bytes", len(got.Plaintext))
	}
	r1 := must(k.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})).get(t)
	r2 := must(k.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})).get(t)
	if len(r1.Plaintext) != 64 || bytes.Equal(r1.Plaintext, r2.Plaintext) {
		t.Fatal("GenerateRandom is not random")
	}
	_, err = k.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024")
	_, err = k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: make([]byte, 4097)})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")

	// A disabled key neither encrypts nor decrypts; enabled again, it does both.
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: a.KeyId})).get(t)
	_, err = k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("x")})
	wantErr(t, err, "DisabledException", *a.Arn+" is disabled.")
	_, err = k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantErr(t, err, "DisabledException", *a.Arn+" is disabled.")
	must(k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: a.KeyId})).get(t)
	must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})).get(t)
}

func testKMSRotation(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()
	a := createKey(t, k, "rotating")
	st := must(k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: a.KeyId})).get(t)
	if st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("a new key rotates: %+v", st)
	}
	old := must(k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("before")})).get(t)
	rot := must(k.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: a.KeyId})).get(t)
	if *rot.KeyId != *a.KeyId {
		t.Fatalf("RotateKeyOnDemand answered %s", *rot.KeyId)
	}
	md := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.KeyId})).get(t).KeyMetadata
	if *md.CurrentKeyMaterialId == *a.CurrentKeyMaterialId {
		t.Fatal("rotation kept the current material")
	}
	// Old ciphertext still decrypts (with the old material); new data uses the new one.
	dec := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old.CiphertextBlob})).get(t)
	if string(dec.Plaintext) != "before" || *dec.KeyMaterialId != *a.CurrentKeyMaterialId {
		t.Fatalf("old blob: %q under %s", dec.Plaintext, *dec.KeyMaterialId)
	}
	fresh := must(k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("after")})).get(t)
	if d := must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fresh.CiphertextBlob})).get(t); *d.KeyMaterialId != *md.CurrentKeyMaterialId {
		t.Fatal("a new blob is not under the new material")
	}
	rs := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: a.KeyId})).get(t)
	if len(rs.Rotations) != 1 || rs.Rotations[0].RotationType != ktypes.RotationTypeOnDemand || rs.Rotations[0].RotationDate == nil || rs.Truncated {
		t.Fatalf("ListKeyRotations %+v", rs)
	}

	_, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: a.KeyId, RotationPeriodInDays: aws.Int32(30)})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value '30' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90")
	must(k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: a.KeyId, RotationPeriodInDays: aws.Int32(90)})).get(t)
	st = must(k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: a.KeyId})).get(t)
	if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 || st.NextRotationDate == nil {
		t.Fatalf("GetKeyRotationStatus %+v", st)
	}
	// When the period has passed, the scheduler rotates it.
	s.Clock.Advance(91 * 24 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	rs = must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: a.KeyId})).get(t)
	if len(rs.Rotations) != 2 || rs.Rotations[1].RotationType != ktypes.RotationTypeAutomatic {
		t.Fatalf("after the period: %+v", rs.Rotations)
	}
	all := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: a.KeyId, IncludeKeyMaterial: ktypes.IncludeKeyMaterialAllKeyMaterial, Limit: aws.Int32(2)})).get(t)
	if len(all.Rotations) != 2 || !all.Truncated || all.NextMarker == nil {
		t.Fatalf("first page of all material %+v", all)
	}
	rest := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: a.KeyId, IncludeKeyMaterial: ktypes.IncludeKeyMaterialAllKeyMaterial, Marker: all.NextMarker})).get(t)
	if len(rest.Rotations) != 1 || rest.Truncated || rest.Rotations[0].KeyMaterialState != ktypes.KeyMaterialStateCurrent {
		t.Fatalf("second page of all material %+v", rest)
	}
	st2 := must(k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: a.KeyId})).get(t)
	if !st2.NextRotationDate.After(*st.NextRotationDate) {
		t.Fatal("the next rotation date did not move on")
	}
	// Every blob ever made still decrypts.
	for _, b := range [][]byte{old.CiphertextBlob, fresh.CiphertextBlob} {
		must(k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b})).get(t)
	}
	must(k.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: a.KeyId})).get(t)
	if st := must(k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: a.KeyId})).get(t); st.KeyRotationEnabled {
		t.Fatal("DisableKeyRotation left it enabled")
	}
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: a.KeyId})).get(t)
	_, err = k.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: a.KeyId})
	wantErr(t, err, "DisabledException", "")

	// A disabled key does not rotate when due; enabled again, it rotates within a day.
	b := createKey(t, k, "paused")
	must(k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: b.KeyId, RotationPeriodInDays: aws.Int32(90)})).get(t)
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: b.KeyId})).get(t)
	s.Clock.Advance(91 * 24 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	if rs := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: b.KeyId})).get(t).Rotations; len(rs) != 0 {
		t.Fatalf("a disabled key rotated: %+v", rs)
	}
	must(k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: b.KeyId})).get(t)
	s.Clock.Advance(25 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	if rs := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: b.KeyId})).get(t).Rotations; len(rs) != 1 {
		t.Fatalf("the re-enabled key's rotations: %+v", rs)
	}
}

func testKMSDeletion(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()
	a := createKey(t, k, "doomed")
	must(k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: a.KeyId})).get(t)
	_, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId, PendingWindowInDays: aws.Int32(6)})
	wantErr(t, err, "ValidationException", "PendingWindowInDays value is not within the acceptable range of 7 to 30 days.")
	sd := must(k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId, PendingWindowInDays: aws.Int32(7)})).get(t)
	if *sd.KeyId != *a.Arn || sd.KeyState != ktypes.KeyStatePendingDeletion || aws.ToInt32(sd.PendingWindowInDays) != 7 ||
		sd.DeletionDate == nil || sd.DeletionDate.Sub(s.Clock.Now()) < 7*24*time.Hour-time.Minute {
		t.Fatalf("ScheduleKeyDeletion %+v", sd)
	}
	md := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.KeyId})).get(t).KeyMetadata
	if md.KeyState != ktypes.KeyStatePendingDeletion || md.DeletionDate == nil || aws.ToInt32(md.PendingDeletionWindowInDays) != 7 {
		t.Fatalf("DescribeKey pending %+v", md)
	}
	_, err = k.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("x")})
	wantErr(t, err, "KMSInvalidStateException", *a.Arn+" is pending deletion.")
	_, err = k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", *a.Arn+" is pending deletion.")
	_, err = k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", "")
	c := must(k.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: a.KeyId})).get(t)
	if *c.KeyId != *a.Arn {
		t.Fatalf("CancelKeyDeletion %s", *c.KeyId)
	}
	md = must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.KeyId})).get(t).KeyMetadata
	if md.KeyState != ktypes.KeyStateDisabled || md.DeletionDate != nil {
		t.Fatalf("after CancelKeyDeletion %+v", md)
	}
	_, err = k.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", *a.Arn+" is not pending deletion.")

	must(k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId, PendingWindowInDays: aws.Int32(7)})).get(t)
	s.Clock.Advance(6 * 24 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.KeyId})).get(t) // not yet
	s.Clock.Advance(2 * 24 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	_, err = k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.KeyId})
	wantErr(t, err, "NotFoundException", "")
	if as := must(k.ListAliases(ctx, &kms.ListAliasesInput{})).get(t).Aliases; len(as) != 0 {
		t.Fatalf("the deleted key's alias remains: %+v", as)
	}
}

func testKMSTagsPolicies(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	ctx := context.Background()
	md := must(k.CreateKey(ctx, &kms.CreateKeyInput{Tags: []ktypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("blue")}}})).get(t).KeyMetadata
	must(k.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: []ktypes.Tag{
		{TagKey: aws.String("env"), TagValue: aws.String("prod")}, {TagKey: aws.String("team"), TagValue: aws.String("red")}}})).get(t)
	tags := must(k.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId})).get(t)
	if len(tags.Tags) != 2 || *tags.Tags[0].TagKey != "env" || *tags.Tags[1].TagValue != "red" || tags.Truncated {
		t.Fatalf("ListResourceTags %+v", tags.Tags)
	}
	p1 := must(k.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId, Limit: aws.Int32(1)})).get(t)
	p2 := must(k.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId, Limit: aws.Int32(1), Marker: p1.NextMarker})).get(t)
	if !p1.Truncated || *p1.Tags[0].TagKey != "env" || p2.Truncated || *p2.Tags[0].TagKey != "team" {
		t.Fatalf("tag pages %+v %+v", p1, p2)
	}
	must(k.UntagResource(ctx, &kms.UntagResourceInput{KeyId: md.KeyId, TagKeys: []string{"env", "absent"}})).get(t)
	if tags := must(k.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId})).get(t); len(tags.Tags) != 1 {
		t.Fatalf("after UntagResource %+v", tags.Tags)
	}
	_, err := k.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: []ktypes.Tag{{TagKey: aws.String("aws:reserved"), TagValue: aws.String("x")}}})
	wantErr(t, err, "TagException", "")

	pol := must(k.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId})).get(t)
	if aws.ToString(pol.PolicyName) != "default" || !strings.Contains(*pol.Policy, "arn:aws:iam::"+s.Account+":root") {
		t.Fatalf("default key policy %+v", pol)
	}
	_, err = k.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(`{"Statement":`)})
	wantErr(t, err, "MalformedPolicyDocumentException", "")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + s.Account + `:root"},"Action":"kms:*","Resource":"*"}]}`
	must(k.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(doc)})).get(t)
	if got := must(k.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default")})).get(t); *got.Policy != doc {
		t.Fatalf("GetKeyPolicy after Put %s", *got.Policy)
	}
	_, err = k.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("other")})
	wantErr(t, err, "NotFoundException", "")
	lp := must(k.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: md.KeyId})).get(t)
	if len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" || lp.Truncated {
		t.Fatalf("ListKeyPolicies %+v", lp)
	}
}

func secretInput(name, value string) *sm.CreateSecretInput {
	return &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
}

func TestSecretsUnderKeys(t *testing.T) { bothStores(t, serverOpts{}, testSecretsUnderKeys) }
func TestKeyStates(t *testing.T)        { bothStores(t, serverOpts{}, testKeyStates) }

// allowDisable tags a key so that coffer's key hygiene lets it be disabled or deleted while
// it protects live secrets.
func allowDisable(t *testing.T, k *kms.Client, keyID *string) {
	t.Helper()
	must(k.TagResource(context.Background(), &kms.TagResourceInput{KeyId: keyID,
		Tags: []ktypes.Tag{{TagKey: aws.String("coffer:allow-disable-in-use"), TagValue: aws.String("true")}}})).get(t)
}

func testSecretsUnderKeys(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	c := s.client("us-east-1")
	ctx := context.Background()
	a, b := createKey(t, k, "a"), createKey(t, k, "b")
	must(k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: a.KeyId})).get(t)

	in := secretInput("db", "v1")
	in.KmsKeyId = aws.String("alias/app")
	must(c.CreateSecret(ctx, in)).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("v2")})).get(t)
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("db")})).get(t)
	if aws.ToString(d.KmsKeyId) != "alias/app" {
		t.Fatalf("DescribeSecret KmsKeyId %v", d.KmsKeyId)
	}
	vs := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("db")})).get(t)
	for _, v := range vs.Versions {
		if len(v.KmsKeyIds) != 1 || v.KmsKeyIds[0] != *a.Arn {
			t.Fatalf("version %s KmsKeyIds %v", *v.VersionId, v.KmsKeyIds)
		}
	}
	// A secret without KmsKeyId is under the AWS-managed key, created on first use.
	must(c.CreateSecret(ctx, secretInput("plain", "p"))).get(t)
	managed := must(k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/secretsmanager")})).get(t).KeyMetadata
	if managed.KeyManager != ktypes.KeyManagerTypeAws || !managed.Enabled {
		t.Fatalf("managed key %+v", managed)
	}
	if vs := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("plain")})).get(t); vs.Versions[0].KmsKeyIds[0] != "DefaultEncryptionKey" {
		t.Fatalf("managed key named %v", vs.Versions[0].KmsKeyIds)
	}
	for _, call := range []func() error{
		func() error { _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: managed.KeyId}); return err },
		func() error {
			_, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: managed.KeyId})
			return err
		},
		func() error {
			_, err := k.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: managed.KeyId, Policy: aws.String(`{"Statement":[]}`)})
			return err
		},
		func() error {
			_, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: managed.KeyId})
			return err
		},
	} {
		// Its key policy lets nobody manage it (AccessDeniedException, as AWS evaluates the
		// key policy first); behind that the key service refuses too (TestManagedKeyRefused).
		wantErr(t, call(), "AccessDeniedException", "")
	}
	if st := must(k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: managed.KeyId})).get(t); !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 365 {
		t.Fatalf("the managed key does not rotate yearly: %+v", st)
	}
	// A year on, the scheduler has rotated it; the secret under it still reads.
	s.Clock.Advance(366 * 24 * time.Hour)
	s.Secrets.KMS().RunDue(ctx)
	if rs := must(k.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: managed.KeyId})).get(t).Rotations; len(rs) != 1 || rs[0].RotationType != ktypes.RotationTypeAutomatic {
		t.Fatalf("the managed key's rotations after a year: %+v", rs)
	}
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("plain")})).get(t); *v.SecretString != "p" {
		t.Fatal("the secret under the rotated managed key does not read")
	}
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("plain"), SecretString: aws.String("p2")})).get(t)
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("plain"), VersionStage: aws.String("AWSPREVIOUS")})).get(t); *v.SecretString != "p" {
		t.Fatal("the version under the old material does not read")
	}

	// Key hygiene: a key that protects a live secret is not disabled or deleted.
	_, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", "coffer refuses to disable "+*a.Arn+": it protects 1 secret that is not scheduled for deletion. "+
		"Re-encrypt or delete them first, or tag the key coffer:allow-disable-in-use=true to allow it (see `coffer keys bindings`).")
	_, err = k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", "")
	_, bindings, err := s.Secrets.KMS().Bindings(ctx, nsOf(s), "alias/app")
	if err != nil || len(bindings) != 2 || bindings[0].SecretName != "db" {
		t.Fatalf("bindings %v %v", bindings, err)
	}

	// Changing the secret's key re-encrypts AWSCURRENT and AWSPREVIOUS; a deprecated version
	// stays under the old key.
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("v3")})).get(t)
	must(c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("db"), KmsKeyId: b.Arn})).get(t)
	all := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("db"), IncludeDeprecated: aws.Bool(true)})).get(t)
	underA, underB := 0, 0
	for _, v := range all.Versions {
		switch {
		case len(v.VersionStages) == 0 && v.KmsKeyIds[0] == *a.Arn:
			underA++
		case len(v.VersionStages) > 0 && v.KmsKeyIds[0] == *b.Arn:
			underB++
		default:
			t.Fatalf("version %s %v under %v", *v.VersionId, v.VersionStages, v.KmsKeyIds)
		}
	}
	if underA != 1 || underB != 2 {
		t.Fatalf("%d versions under a, %d under b", underA, underB)
	}
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("db")})).get(t); *v.SecretString != "v3" {
		t.Fatalf("after re-encryption: %q", *v.SecretString)
	}
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("db"), VersionStage: aws.String("AWSPREVIOUS")})).get(t); *v.SecretString != "v2" {
		t.Fatalf("AWSPREVIOUS after re-encryption: %q", *v.SecretString)
	}
	// Key a still protects the deprecated version: still refused.
	_, err = k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: a.KeyId})
	wantErr(t, err, "KMSInvalidStateException", "")
	// A secret in its recovery window does not count, so a teardown (secret, then key) works.
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("db"), RecoveryWindowInDays: aws.Int64(7)})).get(t)
	must(k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: a.KeyId, PendingWindowInDays: aws.Int32(7)})).get(t)
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: b.KeyId})).get(t)
	report, err := s.Secrets.KMS().Report(ctx, nsOf(s))
	if err != nil || len(report) != 3 {
		t.Fatalf("report %d entries, %v", len(report), err)
	}

	// The override: with the tag, a bound key is disabled; reads and writes then fail with
	// AWS's errors, and enabling it restores everything.
	const svcValue = "canary-kms-svc-7d41c0"
	c2 := secretInput("svc", svcValue)
	c2.KmsKeyId = b.KeyId
	must(k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: b.KeyId})).get(t)
	must(c.CreateSecret(ctx, c2)).get(t)
	_, err = k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: b.KeyId})
	wantErr(t, err, "KMSInvalidStateException", "")
	allowDisable(t, k, b.KeyId)
	must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: b.KeyId})).get(t)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("svc")})
	wantErr(t, err, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("svc"), SecretString: aws.String("canary-kms-svc-put-5e9a")})
	wantErr(t, err, "EncryptionFailure", "Secrets Manager can't encrypt the protected secret text using the provided KMS key.")
	must(k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: b.KeyId})).get(t)
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("svc")})).get(t); *v.SecretString != svcValue {
		t.Fatal("after EnableKey: not the value first written")
	}
	// The failures were logged with the key's state, never with a value.
	log := readLog(t, s)
	if !strings.Contains(log, "key_state=Disabled") {
		t.Fatal("the log does not name the key state")
	}
	// The values are long canaries: a two-letter value turned up by chance in a random
	// database name and failed CI.
	if strings.Contains(log, "canary-kms-svc") {
		t.Fatal("the log holds a value")
	}
	// A key that does not exist is AWS's InvalidParameterException.
	bad := secretInput("nokey", "x")
	bad.KmsKeyId = aws.String("11111111-2222-4333-8444-555555555555")
	_, err = c.CreateSecret(ctx, bad)
	wantErr(t, err, "InvalidParameterException", "")
}

func testKeyStates(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	k := s.kmsClient("us-east-1")
	c := s.client("us-east-1")
	ctx := context.Background()
	type op struct {
		name string
		call func(id string) error
		// the error code when the key is disabled or pending deletion; "" when the operation
		// does not use the key and succeeds in every state
		failsWith string
	}
	ops := []op{
		{"GetSecretValue", func(id string) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &id})
			return err
		}, "DecryptionFailure"},
		{"GetSecretValue AWSPREVIOUS", func(id string) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &id, VersionStage: aws.String("AWSPREVIOUS")})
			return err
		}, "DecryptionFailure"},
		{"BatchGetSecretValue", func(id string) error {
			out, err := c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: []string{id}})
			if err == nil && len(out.Errors) > 0 {
				return &smithyErr{code: aws.ToString(out.Errors[0].ErrorCode)}
			}
			return err
		}, "DecryptionFailure"},
		{"PutSecretValue", func(id string) error {
			_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &id, SecretString: aws.String("new")})
			return err
		}, "EncryptionFailure"},
		{"UpdateSecret with a value", func(id string) error {
			_, err := c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: &id, SecretString: aws.String("new")})
			return err
		}, "EncryptionFailure"},
		{"UpdateSecret description", func(id string) error {
			_, err := c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: &id, Description: aws.String("d")})
			return err
		}, ""},
		{"DescribeSecret", func(id string) error {
			_, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
			return err
		}, ""},
		{"ListSecretVersionIds", func(id string) error {
			_, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: &id})
			return err
		}, ""},
		{"ListSecrets", func(string) error { _, err := c.ListSecrets(ctx, &sm.ListSecretsInput{}); return err }, ""},
		{"TagResource", func(id string) error {
			_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: &id, Tags: []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}, ""},
		{"UntagResource", func(id string) error {
			_, err := c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: &id, TagKeys: []string{"k"}})
			return err
		}, ""},
		{"UpdateSecretVersionStage", func(id string) error {
			vs, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: &id})
			if err != nil {
				return err
			}
			for _, v := range vs.Versions {
				if len(v.VersionStages) == 1 && v.VersionStages[0] == "AWSPREVIOUS" {
					_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: &id, VersionStage: aws.String("LABEL"), MoveToVersionId: v.VersionId})
				}
			}
			return err
		}, ""},
		{"PutResourcePolicy", func(id string) error {
			_, err := c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: &id, ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + s.Account + `:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)})
			return err
		}, ""},
		{"DeleteSecret and RestoreSecret", func(id string) error {
			if _, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: &id}); err != nil {
				return err
			}
			_, err := c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: &id})
			return err
		}, ""},
	}
	states := []struct {
		name string
		set  func(keyID *string)
	}{
		{"Enabled", func(*string) {}},
		{"Disabled", func(id *string) { must(k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id})).get(t) }},
		{"PendingDeletion", func(id *string) {
			must(k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})).get(t)
		}},
	}
	for _, st := range states {
		for i, o := range ops {
			t.Run(st.name+"/"+o.name, func(t *testing.T) {
				key := createKey(t, k, st.name)
				allowDisable(t, k, key.KeyId)
				id := st.name + "-" + itoa(i)
				in := secretInput(id, "first")
				in.KmsKeyId = key.KeyId
				must(c.CreateSecret(ctx, in)).get(t)
				must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &id, SecretString: aws.String("second")})).get(t)
				st.set(key.KeyId)
				err := o.call(id)
				switch {
				case st.name == "Enabled" || o.failsWith == "":
					if err != nil {
						t.Fatalf("failed: %v", err)
					}
				default:
					if err == nil {
						t.Fatalf("succeeded, want %s", o.failsWith)
					}
					var ae interface{ ErrorCode() string }
					if !errorsAs(err, &ae) || ae.ErrorCode() != o.failsWith {
						t.Fatalf("got %v, want %s", err, o.failsWith)
					}
				}
			})
		}
	}
}

// smithyErr carries a per-secret error code of BatchGetSecretValue as an API error.
type smithyErr struct{ code string }

func (e *smithyErr) Error() string     { return e.code }
func (e *smithyErr) ErrorCode() string { return e.code }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(i int) string { return strconv.Itoa(i) }

func nsOf(s *testServer) coffer.Namespace {
	return coffer.Namespace{Account: s.Account, Region: s.Regions[0]}
}

func readLog(t *testing.T, s *testServer) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
